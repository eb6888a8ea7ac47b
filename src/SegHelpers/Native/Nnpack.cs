using System.Runtime.InteropServices;

namespace SegHelpers.Native;

/// <summary>
/// libtorch asks NNPACK whether it can run before every fp32 CPU convolution (before it even checks the batch size NNPACK
/// needs), and where NNPACK cannot initialise it logs "Could not initialize NNPACK! Reason: Unsupported hardware." once per
/// process. NNPACK needs the CPU's L1, L2 and L3 cache sizes from CPUID; the VMs this project runs on (AMD EPYC under
/// Firecracker) report none (CPUID leaves 4 and 0x8000001D are empty), so NNPACK refuses. Where NNPACK cannot initialise
/// it is switched off in libtorch (<c>torch.backends.nnpack.enabled = False</c>), which stops the probe and its warning;
/// every other libtorch warning still reaches the user. Where NNPACK works, nothing changes.
/// </summary>
public static unsafe class Nnpack
{
    /// <summary>nnp_initialize's result here (0 is success; 51 is unsupported hardware), or null where it could not be asked.</summary>
    public static int? InitializeStatus { get; private set; }

    /// <summary>True when this process switched NNPACK off in libtorch.</summary>
    public static bool Disabled { get; private set; }

    static readonly object Gate = new();

    /// <summary>
    /// Asks NNPACK whether it can run and, if not, switches it off in libtorch; once per process, once libtorch is loaded.
    /// Called by <see cref="TorchNative.EnsureLoadable"/> and by the model's constructor, so every path that builds a model
    /// gets it before its first convolution.
    /// </summary>
    public static void DisableWhereUnsupported()
    {
        lock (Gate)
            DisableOnce();
    }

    static void DisableOnce()
    {
        if (InitializeStatus is not null || !OperatingSystem.IsLinux() || LoadedLibrary("libtorch_cpu.so") is not { } path)
            return;
        var handle = NativeLibrary.Load(path);
        if (!NativeLibrary.TryGetExport(handle, "nnp_initialize", out var initialize) ||
            !NativeLibrary.TryGetExport(handle, "_ZN2at13globalContextEv", out var globalContext) ||
            !NativeLibrary.TryGetExport(handle, "_ZN2at7Context20setUserEnabledNNPACKEb", out var setEnabled))
            return;
        int status = ((delegate* unmanaged<int>)initialize)();
        InitializeStatus = status;
        if (status == 0)
            return;
        nint context = ((delegate* unmanaged<nint>)globalContext)();
        ((delegate* unmanaged<nint, byte, void>)setEnabled)(context, 0);
        Disabled = true;
    }

    /// <summary>The full path of a shared library this process has mapped, from /proc/self/maps.</summary>
    static string? LoadedLibrary(string name) =>
        File.Exists("/proc/self/maps")
            ? File.ReadLines("/proc/self/maps").Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries))
                .Where(f => f.Length >= 6 && Path.GetFileName(f[5]) == name).Select(f => f[5]).FirstOrDefault()
            : null;
}
