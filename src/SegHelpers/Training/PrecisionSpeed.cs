using System.Collections.Concurrent;
using System.Diagnostics;
using SegHelpers.Model;
using SegHelpers.Native;
using TorchSharp;
using static TorchSharp.torch;

namespace SegHelpers.Training;

/// <summary>
/// How much faster the encoder trains in a low precision than in fp32 on this device, measured, not assumed: a CPU that
/// reports AVX512-BF16 may still run bf16 convolutions slower than fp32 (an Intel Xeon of this project's machines runs its
/// bf16 matmul at 0.57× fp32 and fc6's 7×7 bf16 convolution at a tenth of fp32's rate). One forward and backward pass of
/// a fresh encoder at batch 1 and the training size, in both precisions, best of two after one untimed; remembered per
/// process.
/// </summary>
public static class PrecisionSpeed
{
    static readonly ConcurrentDictionary<(int, ScalarType, string, int, int), double> Cache = new();

    /// <summary>Forgets what was measured, so the next call measures again (tests that count what a measurement leaves behind).</summary>
    internal static void ForgetCache() => Cache.Clear();

    /// <summary>fp32 time over <paramref name="dtype"/> time for one encoder training pass (above 1: the low precision is faster).</summary>
    public static double Speedup(int widthDivisor, ScalarType dtype, Device device, int height, int width) =>
        Cache.GetOrAdd((widthDivisor, dtype, device.ToString(), height, width), _ => Measure(widthDivisor, dtype, device, height, width));

    static double Measure(int widthDivisor, ScalarType dtype, Device device, int height, int width)
    {
        using var fp32 = new Vgg16Encoder(widthDivisor);
        fp32.to(device).eval();
        using var low = fp32.LowPrecisionCopy(dtype, device);
        low.eval();
        using var image = randn(1, 3, Fcn.PaddedSize(height), Fcn.PaddedSize(width), device: device);
        return Seconds(fp32, image) / Seconds(low, image);
    }

    static double Seconds(Vgg16Encoder encoder, Tensor image)
    {
        double best = double.MaxValue;
        for (int run = 0; run < 3; run++)
        {
            using var scope = NewDisposeScope();
            var clock = Stopwatch.StartNew();
            var (pool3, pool4, fc7) = encoder.call(image.to(encoder.DType));
            pool3.sum().to(ScalarType.Float32).Plus(pool4.sum().to(ScalarType.Float32)).Plus(fc7.sum().to(ScalarType.Float32)).backward();
            if (image.device_type == DeviceType.CUDA)
                cuda.synchronize();
            if (run > 0)
                best = Math.Min(best, clock.Elapsed.TotalSeconds);
            encoder.zero_grad();
        }
        return best;
    }
}
