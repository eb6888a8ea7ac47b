using SegHelpers.Model.Weights;
using static TorchSharp.torch;

namespace SegHelpers.Tests.Model;

/// <summary>Files written by real PyTorch (Fixtures/torch/make_fixtures.py) at 1/64 of VGG16's width.</summary>
static class TorchFixtures
{
    public const int Divisor = 64;

    public static string File(string name) => Path.Combine(AppContext.BaseDirectory, "Fixtures", "torch", name);

    /// <summary>PyTorch's input and the logits each variant gave for it.</summary>
    public static (Tensor Input, Tensor Logits) Io(string variant)
    {
        var io = StateDict.Read(File("parity_io.safetensors"));
        return (io.Find("input")!.ToTensor(), io.Find("logits_" + variant)!.ToTensor());
    }

    /// <summary>max |actual − expected| / max |expected|.</summary>
    public static double RelativeError(Tensor actual, Tensor expected)
    {
        Assert.Equal(expected.shape, actual.shape);
        return (actual - expected).abs().max().item<float>() / expected.abs().max().item<float>();
    }
}
