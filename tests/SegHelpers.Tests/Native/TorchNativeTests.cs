using SegHelpers.Native;
using TorchSharp;
using static TorchSharp.torch;

namespace SegHelpers.Tests.Native;

public class TorchNativeTests
{
    [Fact]
    public void TorchSharp_initialises_and_runs_a_convolution()
    {
        TorchNative.EnsureLoadable();
        using var scope = NewDisposeScope();
        var conv = nn.Conv2d(3, 2, 3);
        using (no_grad())
        {
            conv.weight!.fill_(1f);
            conv.bias!.fill_(0.5f);
        }

        var y = conv.forward(ones(1, 3, 5, 7));

        Assert.Equal(new long[] { 1, 2, 3, 5 }, y.shape);
        Assert.Equal(27.5f, y[0, 1, 2, 4].item<float>());
    }

    [Fact]
    public void Every_candidate_copy_is_weak_where_the_system_needs_it()
    {
        TorchNative.EnsureLoadable();
        var copies = TorchNative.CandidateLibraries();

        Assert.NotEmpty(copies);
        if (!ElfWeakReference.SystemNeedsPatch())
            return; // a libstdc++ with GLIBCXX_3.4.32 needs no patch; nothing more to check
        foreach (string path in copies)
        {
            byte[] bytes = File.ReadAllBytes(path);
            Assert.Equal(ElfPatchResult.AlreadyWeak,
                ElfWeakReference.Weaken(bytes, ElfWeakReference.IostreamAnchorSymbol, ElfWeakReference.IostreamAnchorVersion));
        }
    }
}
