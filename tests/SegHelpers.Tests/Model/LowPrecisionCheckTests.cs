using Xunit.Abstractions;
using SegHelpers.Data;
using SegHelpers.Evaluation;
using SegHelpers.Model;
using static TorchSharp.torch;

namespace SegHelpers.Tests.Model;

public class LowPrecisionCheckTests(ITestOutputHelper output)
{
    [Fact]
    public void Finds_each_kind_of_layer_the_encoder_and_decoder_use_once()
    {
        using var model = new Fcn(new FcnOptions("fcn8s", WidthDivisor: 16));

        var encoder = LowPrecisionCheck.KindsIn(model.Encoder).Select(k => k.ToString()).ToList();
        var decoder = LowPrecisionCheck.KindsIn(model.Decoder).Select(k => k.ToString()).ToList();

        Assert.Equal(new HashSet<string>
        {
            "conv2d 3→4 k3 s1 p1", "conv2d 4→4 k3 s1 p1", "max_pool2d k2 s2 (0 channels)", "conv2d 4→8 k3 s1 p1", "conv2d 8→8 k3 s1 p1",
            "conv2d 8→16 k3 s1 p1", "conv2d 16→16 k3 s1 p1", "conv2d 16→32 k3 s1 p1", "conv2d 32→32 k3 s1 p1", "conv2d 32→256 k7 s1 p3",
            "conv2d 256→256 k1 s1 p0",
        }, encoder.ToHashSet());
        Assert.Equal(11, encoder.Count);
        Assert.Equal(new HashSet<string> { "conv2d 256→2 k1 s1 p0", "conv2d 32→2 k1 s1 p0", "conv2d 16→2 k1 s1 p0", "conv_transpose2d 2→2 k4 s2 p1", "conv_transpose2d 2→2 k16 s8 p4" },
            decoder.ToHashSet());
    }

    [Fact]
    public void Errors_are_measured_against_float64_not_assumed()
    {
        using var model = new Fcn(new FcnOptions("fcn8s", WidthDivisor: 16));

        var fp32 = LowPrecisionCheck.Run(model, ScalarType.Float32, CPU, tolerance: 1e-5);
        var bf16 = LowPrecisionCheck.Run(model, ScalarType.BFloat16, CPU, backward: true, tolerance: 0);

        Assert.True(fp32.Trusted, fp32.ToString());
        Assert.Contains(fp32.Layers, l => l.Forward > 0); // fp32 rounds where float64 does not
        // bf16 rounds every product's result at least once: with no tolerance, every kind with weights shows a positive error.
        Assert.False(bf16.Trusted);
        Assert.All(bf16.Layers.Where(l => l.Kind.Op != "max_pool2d"), l =>
        {
            Assert.True(l.Forward > 0, l.ToString());
            Assert.True(l.InputGradient > 0 && l.WeightGradient > 0, l.ToString());
        });
        var pool = bf16.Layers.Single(l => l.Kind.Op == "max_pool2d");
        Assert.True(double.IsNaN(pool.WeightGradient), "a max-pool has no weight");
        Assert.Equal(0, pool.Forward); // picking the largest of already-rounded values is exact in any precision
        Assert.Contains("disagree with fp32", bf16.ToString());
    }

    [Fact]
    public void Relative_error_is_the_norm_of_the_difference_over_the_norm_of_the_reference()
    {
        using var reference = tensor(new double[] { 3, 4 });
        using var near = tensor(new double[] { 3, 4.5 });
        using var zero = zeros(2, ScalarType.Float64);
        using var nan = tensor(new double[] { 3, double.NaN });

        Assert.Equal(0.1, LowPrecisionCheck.RelativeError(near, reference), 12); // |(0, 0.5)| / |(3, 4)| = 0.5 / 5
        Assert.Equal(0, LowPrecisionCheck.RelativeError(zero, zero));
        Assert.Equal(double.PositiveInfinity, LowPrecisionCheck.RelativeError(near, zero));
        Assert.Equal(double.PositiveInfinity, LowPrecisionCheck.RelativeError(nan, reference));
    }

    /// <summary>
    /// The sizes floating-point arithmetic predicts, not what the same calls give: a sound kernel's forward error is about the
    /// rounding of its output, half a unit in the last place of an 8-bit (bf16) or 24-bit (fp32) mantissa, so 2⁻⁹ and 2⁻²⁵ in
    /// relative L2, give or take what the sums add. A broken kernel is far above; a check that compared a result with itself
    /// would be 0. Some CPUs this is tested on (2-core AMD EPYC VMs) have broken oneDNN bf16 kernels for layers with few channels
    /// (errors of 0.3–1): those must be far above the rounding and refused by the product's verdict; with 16 or more input
    /// channels, every kernel met so far rounds soundly.
    /// </summary>
    [Fact]
    public void Forward_errors_are_the_size_of_the_precisions_rounding()
    {
        using var model = new Fcn(new FcnOptions("fcn8s", WidthDivisor: 16));

        var fp32 = LowPrecisionCheck.Run(model, ScalarType.Float32, CPU, tolerance: 1e-5);
        var bf16 = LowPrecisionCheck.Run(model, ScalarType.BFloat16, CPU, tolerance: 0);
        var verdict = LowPrecisionCheck.Run(model, ScalarType.BFloat16, CPU);

        foreach (var layer in bf16.Layers.Where(l => l.Kind.Op != "max_pool2d"))
        {
            if (layer.Kind.InChannels >= 16 || layer.Forward <= Math.Pow(2, -5))
            {
                Assert.InRange(layer.Forward, Math.Pow(2, -11), Math.Pow(2, -5));
                continue;
            }
            output.WriteLine($"broken bf16 kernel on this CPU: {layer}");
            Assert.True(layer.Forward > Math.Pow(2, -3), $"neither rounding nor broken: {layer}");
            Assert.Contains(verdict.Failures, f => f.Kind == layer.Kind);
        }
        foreach (var layer in fp32.Layers.Where(l => l.Kind.Op != "max_pool2d"))
            Assert.InRange(layer.Forward, 0, Math.Pow(2, -19));
        Assert.Contains(fp32.Layers, l => l.Forward > Math.Pow(2, -30));
    }

    [Fact]
    public void A_predictor_whose_bf16_kernels_fail_the_check_warns_and_predicts_in_fp32()
    {
        static Fcn Model()
        {
            var model = new Fcn(new FcnOptions("fcn8s", WidthDivisor: 16), seed: 4);
            using var generator = new Generator(4, CPU);
            using (no_grad())
                foreach (var p in model.Decoder.parameters())
                    p.normal_(0, 0.1, generator);
            return model;
        }
        var pixels = new byte[96 * 32 * 3];
        new Random(3).NextBytes(pixels);
        var image = new RgbImage(96, 32, pixels);
        using var fp32 = new RoadPredictor(Model(), new PredictionOptions(32, 96, Device: "cpu"));
        using var failing = new RoadPredictor(Model(), new PredictionOptions(32, 96, Device: "cpu", Precision: "bf16"), lowPrecisionTolerance: 0);

        Assert.Equal("fp32", failing.Options.Precision);
        Assert.StartsWith("warning: bf16 on cpu: libtorch's kernels disagree with fp32 for conv2d ", failing.Warning);
        Assert.Contains("conv2d 3→4 k3 s1 p1: forward ", failing.Warning);
        Assert.EndsWith("; predicting in fp32 instead", failing.Warning);
        Assert.Equal(ScalarType.Float32, failing.Model.EncoderPrecision);
        Assert.Equal(fp32.Predict(image).Values, failing.Predict(image).Values);
    }

    [Fact]
    public void A_trusted_bf16_predictor_runs_the_encoder_in_bf16_and_the_decoder_in_fp32()
    {
        using var predictor = new RoadPredictor(new Fcn(new FcnOptions("fcn8s", WidthDivisor: 16)), new PredictionOptions(32, 96, Device: "cpu", Precision: "bf16"),
            lowPrecisionTolerance: double.PositiveInfinity);

        Assert.Null(predictor.Warning);
        Assert.Equal("bf16", predictor.Options.Precision);
        Assert.Equal(ScalarType.BFloat16, predictor.Model.EncoderPrecision);
        Assert.All(predictor.Model.Decoder.parameters(), p => Assert.Equal(ScalarType.Float32, p.dtype));
        using var logits = predictor.Model.call(zeros(1, 3, 32, 96));
        Assert.Equal(ScalarType.Float32, logits.dtype);
    }
}
