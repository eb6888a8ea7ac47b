using System.IO.Compression;
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
        // Where libstdc++ lacks GLIBCXX_3.4.32 every copy must be weak; where it has it, EnsureLoadable must leave them as shipped
        // (the anchor still strong, so weakening it would still change the bytes).
        var expected = ElfWeakReference.SystemNeedsPatch() ? ElfPatchResult.AlreadyWeak : ElfPatchResult.Patched;
        foreach (string path in copies)
        {
            byte[] bytes = File.ReadAllBytes(path);
            Assert.Equal(expected, ElfWeakReference.Weaken(bytes, ElfWeakReference.IostreamAnchorSymbol, ElfWeakReference.IostreamAnchorVersion));
            Assert.Equal(expected, ElfWeakReference.Retarget(bytes, ElfWeakReference.ConditionVariableWaitSymbol,
                ElfWeakReference.ConditionVariableWaitVersion, ElfWeakReference.ConditionVariableWaitOldVersion));
        }
    }

    [Fact]
    public void Nnpack_is_asked_once_and_switched_off_exactly_where_it_cannot_initialise()
    {
        TorchNative.EnsureLoadable();

        Assert.NotNull(Nnpack.InitializeStatus);
        Assert.Equal(Nnpack.InitializeStatus != 0, Nnpack.Disabled);
        var (exit, stdout, _) = Cli.Seg.Run("info");
        Assert.Equal(0, exit);
        Assert.Contains(Nnpack.Disabled ? $"NNPACK: off; it cannot initialise on this CPU (nnp_initialize status {Nnpack.InitializeStatus})" : "NNPACK: available", stdout);
    }

    [Fact]
    public void The_library_as_shipped_in_the_package_is_patched_in_four_bytes_the_anchor_and_condition_variable_wait()
    {
        string version = typeof(torch).Assembly.GetName().Version!.ToString(3);
        string nupkg = Path.Combine(TorchNative.NuGetPackagesFolder(), "torchsharp", version, $"torchsharp.{version}.nupkg");
        Assert.True(File.Exists(nupkg), $"{nupkg} not found");
        using var dir = new TempDir();
        using (var zip = ZipFile.OpenRead(nupkg))
            zip.GetEntry("runtimes/linux-x64/native/libLibTorchSharp.so")!.ExtractToFile(dir["libLibTorchSharp.so"]);
        byte[] original = File.ReadAllBytes(dir["libLibTorchSharp.so"]);

        Assert.Equal(ElfPatchResult.Patched, TorchNative.Patch(dir["libLibTorchSharp.so"]));
        Assert.Equal(ElfPatchResult.AlreadyWeak, TorchNative.Patch(dir["libLibTorchSharp.so"]));

        byte[] patched = File.ReadAllBytes(dir["libLibTorchSharp.so"]);
        Assert.Equal(original.Length, patched.Length);
        // the anchor's binding and its version's flag; condition_variable::wait's .gnu.version entry and GLIBCXX_3.4.30's flag
        Assert.Equal(4, Enumerable.Range(0, original.Length).Count(i => original[i] != patched[i]));
        // Both references, on every system: strong as shipped, done in the patched bytes (each patch applied again changes nothing).
        foreach (var (bytes, state) in new[] { (original, ElfPatchResult.Patched), (patched, ElfPatchResult.AlreadyWeak) })
        {
            Assert.Equal(state, ElfWeakReference.Weaken([.. bytes], ElfWeakReference.IostreamAnchorSymbol, ElfWeakReference.IostreamAnchorVersion));
            Assert.Equal(state, ElfWeakReference.Retarget([.. bytes], ElfWeakReference.ConditionVariableWaitSymbol,
                ElfWeakReference.ConditionVariableWaitVersion, ElfWeakReference.ConditionVariableWaitOldVersion));
        }
    }

    [Fact]
    public void A_copy_that_cannot_be_written_is_an_error_naming_it_and_the_fix()
    {
        using var dir = new TempDir();
        string missing = dir["gone/libLibTorchSharp.so"];

        var error = Assert.Throws<InvalidOperationException>(() => TorchNative.Patch(missing));

        Assert.Contains(missing, error.Message);
        Assert.Contains("Fix:", error.Message);
    }
}
