using System.Collections.Concurrent;
using SegHelpers.Native;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace SegHelpers.Model;

/// <summary>One kind of layer, as far as libtorch's kernel choice goes: operation, channels, kernel, stride and padding.</summary>
/// <param name="Op"><c>conv2d</c>, <c>conv_transpose2d</c> or <c>max_pool2d</c>.</param>
/// <param name="InChannels">Input channels.</param>
/// <param name="OutChannels">Output channels.</param>
/// <param name="Kernel">Square kernel size.</param>
/// <param name="Stride">Stride.</param>
/// <param name="Padding">Padding.</param>
public sealed record LayerKind(string Op, long InChannels, long OutChannels, long Kernel, long Stride, long Padding)
{
    /// <inheritdoc />
    public override string ToString() => Op == "max_pool2d"
        ? $"max_pool2d k{Kernel} s{Stride} ({InChannels} channels)"
        : $"{Op} {InChannels}→{OutChannels} k{Kernel} s{Stride} p{Padding}";
}

/// <summary>How one layer kind compared: relative L2 error of the low-precision result against fp32, per output.</summary>
/// <param name="Kind">The layer kind.</param>
/// <param name="Forward">Error of the output.</param>
/// <param name="InputGradient">Error of the gradient with respect to the input (NaN when backward was not checked).</param>
/// <param name="WeightGradient">Error of the gradient with respect to the weight (NaN when backward was not checked or there is none).</param>
public sealed record LayerCheck(LayerKind Kind, double Forward, double InputGradient, double WeightGradient)
{
    /// <summary>True when every checked error is at most <paramref name="tolerance"/>.</summary>
    public bool Within(double tolerance) =>
        Forward <= tolerance && (double.IsNaN(InputGradient) || InputGradient <= tolerance) && (double.IsNaN(WeightGradient) || WeightGradient <= tolerance);

    /// <inheritdoc />
    public override string ToString() => $"{Kind}: forward {Forward:G2}" +
                                         (double.IsNaN(InputGradient) ? "" : $", input gradient {InputGradient:G2}") +
                                         (double.IsNaN(WeightGradient) ? "" : $", weight gradient {WeightGradient:G2}");
}

/// <summary>The outcome of <see cref="LowPrecisionCheck.Run"/>: every layer kind checked, and the ones that failed.</summary>
/// <param name="DType">The low-precision type checked.</param>
/// <param name="Device">Where.</param>
/// <param name="Layers">Every layer kind, in model order.</param>
/// <param name="Tolerance">The largest relative error accepted.</param>
public sealed record LowPrecisionVerdict(ScalarType DType, string Device, IReadOnlyList<LayerCheck> Layers, double Tolerance)
{
    /// <summary>True when every layer kind agrees with fp32.</summary>
    public bool Trusted => Layers.All(l => l.Within(Tolerance));

    /// <summary>The layer kinds that do not agree.</summary>
    public IEnumerable<LayerCheck> Failures => Layers.Where(l => !l.Within(Tolerance));

    /// <summary>One line: trusted, or which kernels are wrong and by how much.</summary>
    public override string ToString() => Trusted
        ? $"{LowPrecisionCheck.Name(DType)} on {Device}: {Layers.Count} layer kinds agree with fp32"
        : $"{LowPrecisionCheck.Name(DType)} on {Device}: libtorch's kernels disagree with fp32 for {string.Join("; ", Failures)} (relative error, tolerance {Tolerance})";
}

/// <summary>
/// Checks, before a model runs in bf16 or fp16, that libtorch's low-precision kernels for each kind of layer the model uses
/// compute what fp32 computes on this device. They do not everywhere: on an AMD EPYC with AVX512-BF16, libtorch 2.10's bf16
/// <c>conv_transpose2d</c> returns garbage for 2 and 8 channels, and bf16 <c>conv2d</c>'s input gradient is wrong for 3→64.
/// Each layer kind is run once on a small random input with random weights, both in the low precision and in float64 on the
/// same rounded values, and compared by relative L2 error; results are cached for the process.
/// </summary>
public static class LowPrecisionCheck
{
    /// <summary>
    /// Largest relative L2 error accepted. bf16 keeps 8 significant bits (relative rounding 0.4 %); kernels that accumulate
    /// in fp32 land at 0.2–0.4 %, the broken ones at 30 % and above.
    /// </summary>
    public const double Tolerance = 0.02;

    const int Spatial = 2;
    static readonly ConcurrentDictionary<(LayerKind, ScalarType, string, bool, bool), LayerCheck> Cache = new();

    /// <summary>Forgets what was measured, so the next call measures again (tests that count what a measurement leaves behind).</summary>
    internal static void ForgetCache() => Cache.Clear();

    /// <summary>The distinct layer kinds in <paramref name="module"/> and below it (convolutions, transposed convolutions, max-pools).</summary>
    public static IReadOnlyList<LayerKind> KindsIn(nn.Module module) => [.. module.modules().Prepend(module).Select(KindOf).OfType<LayerKind>().Distinct()];

    /// <summary>
    /// Checks every layer kind of <paramref name="module"/> in <paramref name="dtype"/> on <paramref name="device"/>
    /// (forward, and with <paramref name="backward"/> also the input and weight gradients) against <paramref name="tolerance"/>.
    /// The input gradient of <paramref name="imageLayer"/> is not checked: in training its input is the image, which needs none.
    /// </summary>
    public static LowPrecisionVerdict Run(nn.Module module, ScalarType dtype, Device device, bool backward = false, double tolerance = Tolerance, LayerKind? imageLayer = null)
    {
        Native.Nnpack.DisableWhereUnsupported();
        var kinds = KindsIn(module);
        var checks = kinds.Select(kind =>
        {
            bool inputGradient = backward && kind != imageLayer;
            return Cache.GetOrAdd((kind, dtype, device.ToString(), backward, inputGradient), key => Measure(key.Item1, dtype, device, backward, inputGradient));
        }).ToList();
        return new LowPrecisionVerdict(dtype, device.ToString(), checks, tolerance);
    }

    /// <summary><c>bf16</c>, <c>fp16</c> or <c>fp32</c>.</summary>
    public static string Name(ScalarType dtype) => dtype switch
    {
        ScalarType.BFloat16 => "bf16",
        ScalarType.Float16 => "fp16",
        _ => "fp32",
    };

    /// <summary>The kind of <paramref name="module"/>, or null for layers the check does not cover (activations, dropout).</summary>
    public static LayerKind? KindOf(nn.Module module) => module switch
    {
        Conv2d c => new LayerKind("conv2d", c.in_channels, c.out_channels, c.kernel_size[0], c.stride[0], c.padding?[0] ?? 0),
        ConvTranspose2d t => new LayerKind("conv_transpose2d", t.in_channels, t.out_channels, t.kernel_size[0], t.stride[0], t.padding?[0] ?? 0),
        MaxPool2d p => new LayerKind("max_pool2d", 0, 0, p.kernel_size[0], p.stride?[0] ?? p.kernel_size[0], p.padding?[0] ?? 0),
        _ => null,
    };

    static LayerCheck Measure(LayerKind kind, ScalarType dtype, Device device, bool backward, bool inputGradient)
    {
        using var scope = NewDisposeScope();
        using var generator = new Generator(20240611, CPU);
        long channels = kind.Op == "max_pool2d" ? 64 : kind.InChannels;
        // Values already representable in the low precision, so the two runs see the same numbers.
        Tensor Rounded(params long[] shape) => randn(shape, generator: generator).to(dtype).to(ScalarType.Float32);
        var input = Rounded(2, channels, Spatial + kind.Kernel, Spatial + kind.Kernel);
        Tensor? weight = kind.Op switch
        {
            "conv2d" => Rounded(kind.OutChannels, kind.InChannels, kind.Kernel, kind.Kernel).OverInPlace(Math.Sqrt(kind.InChannels * kind.Kernel * kind.Kernel)),
            "conv_transpose2d" => Rounded(kind.InChannels, kind.OutChannels, kind.Kernel, kind.Kernel).OverInPlace(Math.Sqrt(kind.InChannels)),
            _ => null,
        };
        // The reference runs in float64, on libtorch's plain kernels: on the same CPU its fp32 convolution backward for few
        // input channels intermittently returns NaN or wrong input gradients, so fp32 is not a safe yardstick.
        backward &= inputGradient || weight is not null;
        var (reference, refGrads) = Evaluate(kind, input, weight, ScalarType.Float64, dtype, device, backward, inputGradient);
        var (low, lowGrads) = Evaluate(kind, input, weight, dtype, dtype, device, backward, inputGradient);
        int w = inputGradient ? 1 : 0;
        return new LayerCheck(kind, RelativeError(low, reference),
            backward && inputGradient ? RelativeError(lowGrads[0], refGrads[0]) : double.NaN,
            backward && weight is not null ? RelativeError(lowGrads[w], refGrads[w]) : double.NaN);
    }

    static (Tensor Output, Tensor[] Gradients) Evaluate(LayerKind kind, Tensor input, Tensor? weight, ScalarType dtype, ScalarType rounding, Device device, bool backward, bool inputGradient)
    {
        var x = input.to(device).to(dtype).detach().requires_grad_(backward && inputGradient);
        var w = weight?.to(device).to(dtype).detach().requires_grad_(backward);
        var y = kind.Op switch
        {
            "conv2d" => F.conv2d(x, w!, null, [kind.Stride], [kind.Padding]),
            "conv_transpose2d" => F.conv_transpose2d(x, w!, null, [kind.Stride], [kind.Padding]),
            _ => F.max_pool2d(x, [kind.Kernel], [kind.Stride], [kind.Padding]),
        };
        if (!backward)
            return (y.to(ScalarType.Float64).cpu(), []);
        // The same upstream gradient for both precisions: from a fixed seed, rounded to the low precision.
        using var seed = new Generator(7, CPU);
        var upstream = randn(y.shape, generator: seed).to(rounding).to(dtype).to(device);
        var grads = autograd.grad([y], [.. new[] { inputGradient ? x : null, w }.OfType<Tensor>()], [upstream]);
        return (y.detach().to(ScalarType.Float64).cpu(), [.. grads.Select(g => g.to(ScalarType.Float64).cpu())]);
    }

    /// <summary>‖actual − expected‖ / ‖expected‖ (L2), infinite where the error is not finite.</summary>
    internal static double RelativeError(Tensor actual, Tensor expected)
    {
        double norm = expected.norm().item<double>();
        double error = (actual - expected).norm().item<double>();
        return norm == 0 ? (error == 0 ? 0 : double.PositiveInfinity) : double.IsFinite(error) ? error / norm : double.PositiveInfinity;
    }
}
