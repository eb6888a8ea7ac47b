using System.Collections.Concurrent;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace SegHelpers.Model;

/// <summary>How the channels-last kernels of every layer kind of an encoder compared with the NCHW ones.</summary>
/// <param name="Device">Where.</param>
/// <param name="Layers">Relative L2 error of each layer kind's channels-last output against its NCHW output (forward only).</param>
/// <param name="Tolerance">The largest relative error accepted.</param>
public sealed record ChannelsLastVerdict(string Device, IReadOnlyList<LayerCheck> Layers, double Tolerance)
{
    /// <summary>True when every layer kind agrees.</summary>
    public bool Trusted => Layers.All(l => l.Within(Tolerance));

    /// <inheritdoc />
    public override string ToString() => Trusted
        ? $"fp32 channels-last on {Device}: {Layers.Count} layer kinds agree with NCHW"
        : $"fp32 channels-last on {Device}: libtorch's kernels disagree with NCHW for {string.Join("; ", Layers.Where(l => !l.Within(Tolerance)))} " +
          $"(relative error, tolerance {Tolerance}); inference runs NCHW";
}

/// <summary>
/// Checks, before fp32 inference runs the encoder channels-last (<see cref="Fcn.ChannelsLastInference"/>), that libtorch's
/// channels-last kernels compute what its NCHW kernels compute on this CPU: oneDNN picks different implementations for the two
/// layouts, and this project has met CPUs where one oneDNN kernel was wrong while others were right (<see cref="LowPrecisionCheck"/>,
/// <see cref="DecoderKernels"/>). Each layer kind runs once with the layer's own weights on a small random input in both layouts
/// (through the functional call, so no forward hook fires);
/// results are cached per layer kind for the process. It costs milliseconds and allocates nothing the size of a weight.
/// </summary>
public static class ChannelsLastCheck
{
    /// <summary>Largest relative L2 error accepted: both sides are fp32 and differ only in summation order (about 1e-7).</summary>
    public const double Tolerance = 1e-4;

    const int Spatial = 3;
    static readonly ConcurrentDictionary<LayerKind, LayerCheck> Cache = new();

    /// <summary>Forgets what was measured, so the next call measures again (tests that count what a measurement leaves behind).</summary>
    internal static void ForgetCache() => Cache.Clear();

    /// <summary>Checks every convolution and max-pool kind of <paramref name="encoder"/> (fp32, on the CPU).</summary>
    public static ChannelsLastVerdict Run(Vgg16Encoder encoder, double tolerance = Tolerance)
    {
        var layers = encoder.modules().Where(m => m is Conv2d or MaxPool2d).Cast<nn.Module<Tensor, Tensor>>()
            .Select(layer => (Layer: layer, Kind: LowPrecisionCheck.KindOf(layer)!))
            .DistinctBy(l => l.Kind)
            .Select(l => Cache.GetOrAdd(l.Kind, _ => Measure(l.Layer, l.Kind)))
            .ToList();
        return new ChannelsLastVerdict("cpu", layers, tolerance);
    }

    static LayerCheck Measure(nn.Module<Tensor, Tensor> layer, LayerKind kind)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        using var generator = new Generator(20261130, CPU);
        var conv = layer as Conv2d;
        var input = randn([2, conv?.in_channels ?? 64, Spatial + kind.Kernel, Spatial + kind.Kernel], generator: generator);
        Tensor Run(Tensor x) => conv is not null
            ? F.conv2d(x, conv.weight!, conv.bias, [kind.Stride], [kind.Padding])
            : F.max_pool2d(x, [kind.Kernel], [kind.Stride], [kind.Padding]);
        var channelsLastInput = Fcn.ChannelsLast(input);
        if (input.shape[1] > 1 && (channelsLastInput.stride(1) != 1 || input.stride(1) == 1)) // one channel: both layouts are the same memory
            throw new InvalidOperationException($"the channels-last check compares NHWC with NCHW, but ran strides [{string.Join(", ", channelsLastInput.stride())}] against [{string.Join(", ", input.stride())}]");
        var nchw = Run(input).to(ScalarType.Float64);
        var channelsLast = Run(channelsLastInput).to(ScalarType.Float64);
        return new LayerCheck(kind, LowPrecisionCheck.RelativeError(channelsLast, nchw), double.NaN, double.NaN);
    }
}
