using TorchSharp;
using System.Diagnostics;
using System.Globalization;
using SegHelpers.Model;
using static TorchSharp.torch;

namespace SegHelpers.Training;

/// <summary>The precision a run trains in, and why.</summary>
/// <param name="DType">fp32, bf16 or fp16.</param>
/// <param name="Note">One line for the log: what was asked for, what is used and why.</param>
/// <param name="Warning">Set when the choice is not what was asked for or will be slow.</param>
public sealed record PrecisionChoice(ScalarType DType, string Note, string? Warning);

/// <summary>
/// Chooses the training precision. <c>fp32</c> is the default; <c>bf16</c> suits CPUs with AVX512-BF16 or AMX and CUDA
/// GPUs of compute capability 8.0 and up; <c>fp16</c> is CUDA only (with loss scaling); <c>auto</c> takes the fastest of
/// these the device supports, and on a CPU takes bf16 only where it measures faster than fp32 (<see cref="PrecisionSpeed"/>).
/// Before any low precision is used, <see cref="LowPrecisionCheck"/> compares libtorch's kernels for every layer kind of the
/// encoder, forward and backward, with float64 on this device; if one is off, training runs in fp32 with a warning.
/// </summary>
public static class TrainingPrecision
{
    /// <summary>The names <see cref="TrainingOptions.Precision"/> accepts.</summary>
    public static readonly IReadOnlyList<string> Names = ["fp32", "bf16", "fp16", "auto"];

    /// <summary>The smallest measured speed-up over fp32 for which <c>auto</c> takes bf16 on a CPU.</summary>
    public const double MinimumCpuSpeedup = 1.1;

    /// <summary>
    /// The precision to train <paramref name="encoder"/> in on <paramref name="device"/> when <paramref name="requested"/> is
    /// asked for. With <paramref name="size"/> (the training size), <c>auto</c> on a CPU also measures bf16 against fp32 there.
    /// </summary>
    /// <exception cref="ArgumentException">fp16 on a CPU, or an unknown name.</exception>
    public static PrecisionChoice Choose(string requested, Device device, Vgg16Encoder encoder, (int Height, int Width)? size = null) =>
        Choose(requested, device, encoder, size, CpuHasBf16, PrecisionSpeed.Speedup);

    /// <summary><see cref="Choose(string, Device, Vgg16Encoder, ValueTuple{int, int}?)"/> with the CPU's bf16 flag and the speed measurement given (tests).</summary>
    internal static PrecisionChoice Choose(string requested, Device device, Vgg16Encoder encoder, (int Height, int Width)? size,
        Func<bool> cpuHasBf16, Func<int, ScalarType, Device, int, int, double> speedupOf)
    {
        bool cuda = device.type == DeviceType.CUDA;
        ScalarType wanted;
        string? slow = null;
        switch (requested)
        {
            case "fp32":
                return new PrecisionChoice(ScalarType.Float32, "training in fp32", null);
            case "fp16" when !cuda:
                throw new ArgumentException("fp16 training runs on CUDA only; on a CPU use bf16 (fast where the CPU has AVX512-BF16 or AMX) or fp32");
            case "fp16":
                wanted = ScalarType.Float16;
                break;
            case "bf16":
                wanted = ScalarType.BFloat16;
                if (!cuda && !cpuHasBf16())
                    slow = "this CPU has no AVX512-BF16 or AMX, so bf16 runs emulated and slower than fp32";
                else if (cuda && CudaComputeCapability() is < 8.0 and var cc)
                    slow = $"this GPU (compute capability {cc:0.0}) has no bf16 tensor cores, so bf16 runs slower than fp16; use fp16 or auto";
                break;
            case "auto" when cuda:
                wanted = CudaComputeCapability() is >= 8.0 ? ScalarType.BFloat16 : ScalarType.Float16;
                break;
            case "auto" when !cpuHasBf16():
                return new PrecisionChoice(ScalarType.Float32, "auto: training in fp32 (this CPU has no AVX512-BF16 or AMX)", null);
            case "auto":
                wanted = ScalarType.BFloat16;
                break;
            default:
                throw new ArgumentException($"precision must be one of {string.Join(", ", Names)}, not '{requested}'");
        }
        string name = LowPrecisionCheck.Name(wanted);
        var verdict = LowPrecisionCheck.Run(encoder, wanted, device, backward: true, imageLayer: LowPrecisionCheck.KindOf(encoder.Features.children().First()));
        if (!verdict.Trusted)
            return new PrecisionChoice(ScalarType.Float32, $"{requested}: training in fp32", $"warning: {verdict}; training in fp32 instead");
        string prefix = requested == "auto" ? $"auto: training in {name}" : $"training in {name}";
        if (requested == "auto" && !cuda && size is var (h, w))
        {
            double speedup = speedupOf(encoder.WidthDivisor, wanted, device, h, w);
            if (speedup < MinimumCpuSpeedup)
                return new PrecisionChoice(ScalarType.Float32,
                    $"auto: training in fp32 (on this CPU {name} measured {speedup:F2}× fp32's speed at {h}×{w}; it takes {name} from {MinimumCpuSpeedup:F1}×)", null);
            prefix += $" ({speedup:F2}× fp32's speed here)";
        }
        return new PrecisionChoice(wanted, $"{prefix} (encoder; decoder, loss and master weights fp32; {verdict.Layers.Count} layer kinds checked against float64)",
            slow is null ? null : $"warning: {slow}");
    }

    /// <summary>True where the CPU has native bf16 arithmetic (AVX512-BF16 or AMX-BF16), as Linux reports it.</summary>
    public static bool CpuHasBf16()
    {
        try
        {
            if (!OperatingSystem.IsLinux() || !File.Exists("/proc/cpuinfo"))
                return false;
            var flags = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("flags", StringComparison.Ordinal));
            return flags is not null && flags.Split(' ', ':', '\t').Any(f => f is "avx512_bf16" or "amx_bf16");
        }
        catch (IOException)
        {
            return false;
        }
    }

    /// <summary>The first GPU's compute capability from <c>nvidia-smi</c>, or null where it cannot say.</summary>
    static double? CudaComputeCapability()
    {
        try
        {
            using var smi = Process.Start(new ProcessStartInfo("nvidia-smi", "--query-gpu=compute_cap --format=csv,noheader")
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            });
            if (smi is null)
                return null;
            string first = smi.StandardOutput.ReadToEnd().Split('\n')[0].Trim();
            smi.WaitForExit(5000);
            return double.TryParse(first, NumberStyles.Float, CultureInfo.InvariantCulture, out double cc) ? cc : null;
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException)
        {
            return null;
        }
    }
}
