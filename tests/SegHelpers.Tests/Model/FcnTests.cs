using Xunit.Abstractions;
using SegHelpers.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace SegHelpers.Tests.Model;

public class FcnTests(ITestOutputHelper output)
{
    static long Conv(long inC, long outC, long k, bool bias = true) => inC * outC * k * k + (bias ? outC : 0);

    [Fact]
    public void Full_fcn8s_has_vgg16s_parameter_counts_and_about_134_million_in_all()
    {
        using var model = Fcn.Create("fcn8s");

        long features = model.Encoder.Features.parameters().Sum(p => p.numel());
        long total = model.ParameterCount();

        Assert.Equal(14_714_688, features); // torchvision vgg16().features
        long fc = Conv(512, 4096, 7) + Conv(4096, 4096, 1);
        long decoder = Conv(4096, 2, 1) + Conv(512, 2, 1) + Conv(256, 2, 1) + 2 * Conv(2, 2, 4, false) + Conv(2, 2, 16, false);
        Assert.Equal(features + fc + decoder, total);
        Assert.InRange(total / 1e6, 134.25, 134.35);
    }

    [Fact]
    public void Parameter_names_and_shapes_mirror_torchvision_vgg16()
    {
        using var model = Fcn.Create("fcn8s", widthDivisor: 1);
        var shapes = model.named_parameters().ToDictionary(p => p.name, p => p.parameter.shape);

        int[] convIndices = [0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28];
        var featureKeys = shapes.Keys.Where(k => k.StartsWith("encoder.features.")).ToHashSet();
        Assert.Equal(convIndices.SelectMany(i => new[] { $"encoder.features.{i}.weight", $"encoder.features.{i}.bias" }).ToHashSet(), featureKeys);
        Assert.Equal(new long[] { 64, 3, 3, 3 }, shapes["encoder.features.0.weight"]);
        Assert.Equal(new long[] { 512, 512, 3, 3 }, shapes["encoder.features.28.weight"]);
        Assert.Equal(new long[] { 4096, 512, 7, 7 }, shapes["encoder.fc6.weight"]);
        Assert.Equal(new long[] { 4096, 4096, 1, 1 }, shapes["encoder.fc7.weight"]);
        Assert.Equal(new long[] { 2, 2, 16, 16 }, shapes["decoder.upscore.weight"]);
    }

    [Theory]
    [InlineData("fcn8s", 97, 301)]
    [InlineData("fcn16s", 97, 301)]
    [InlineData("fcn32s", 97, 301)]
    [InlineData("fcn8s", 375, 1242)]
    [InlineData("fcn8s", 64, 96)]
    public void Output_has_exactly_the_input_size(string variant, int height, int width)
    {
        using var scope = NewDisposeScope();
        using var model = Fcn.Create(variant, numClasses: 3, widthDivisor: 16);
        model.eval();

        using var _ = no_grad();
        var logits = model.call(randn(1, 3, height, width));

        Assert.Equal(new long[] { 1, 3, height, width }, logits.shape);
    }

    [Fact]
    public void Encoder_returns_pool3_pool4_and_fc7_at_strides_8_16_32()
    {
        using var scope = NewDisposeScope();
        using var encoder = new Vgg16Encoder(widthDivisor: 16);
        encoder.eval();

        var (pool3, pool4, fc7) = encoder.call(randn(2, 3, 64, 96));

        Assert.Equal(new long[] { 2, 16, 8, 12 }, pool3.shape);
        Assert.Equal(new long[] { 2, 32, 4, 6 }, pool4.shape);
        Assert.Equal(new long[] { 2, 256, 2, 3 }, fc7.shape);
    }

    [Theory]
    [InlineData(2)]
    [InlineData(8)]
    [InlineData(32)]
    public void Bilinear_initialised_upsampling_keeps_a_constant_in_the_interior(int factor)
    {
        using var scope = NewDisposeScope();
        var up = nn.ConvTranspose2d(2, 2, 2 * factor, stride: factor, padding: factor / 2, bias: false);
        using (no_grad())
            up.weight!.copy_(FcnDecoder.BilinearKernel(2, 2 * factor));
        var constant = full(1, 2, 5, 6, 3.5f);
        constant[0, 1] = constant[0, 1] * -1;

        var y = up.call(constant);

        Assert.Equal(new long[] { 1, 2, 5 * factor, 6 * factor }, y.shape);
        var interior = y[.., .., factor..(4 * factor), factor..(5 * factor)];
        Assert.True(interior[0, 0].allclose(full_like(interior[0, 0], 3.5f), atol: 1e-5));
        Assert.True(interior[0, 1].allclose(full_like(interior[0, 1], -3.5f), atol: 1e-5));
    }

    [Fact]
    public void Score_layers_start_at_zero_so_the_untrained_output_is_zero()
    {
        using var scope = NewDisposeScope();
        using var model = Fcn.Create("fcn8s", widthDivisor: 16);
        model.eval();

        var logits = model.call(randn(1, 3, 40, 72));

        Assert.Equal(0f, logits.abs().max().item<float>());
    }

    [Fact]
    public void Fp32_inference_on_a_cpu_runs_the_encoder_channels_last_where_its_check_passes_and_gives_the_nchw_logits()
    {
        using var scope = NewDisposeScope();
        using var model = Fcn.Create("fcn8s", widthDivisor: 32, seed: 3); // at ÷8, oneDNN's channels-last 512→512 1×1 kernel is wrong on 2-core EPYC VMs
        using (no_grad())
            foreach (var p in model.Decoder.parameters().Where(p => p.dim() == 4 && p.shape[2] == 1))
                p.normal_(0, 0.1);
        model.eval();
        var layouts = new List<long[]>();
        var firstConv = (TorchSharp.Modules.Conv2d)model.Encoder.Features.children().First();
        var hook = firstConv.register_forward_pre_hook((_, input) => { layouts.Add(input.stride()); return input; });
        using var generator = new Generator(5);
        var image = rand(2, 3, 70, 150, generator: generator);

        Tensor channelsLast, nchw;
        using (no_grad())
        {
            channelsLast = model.call(image);
            model.ChannelsLastInference = false;
            nchw = model.call(image);
            model.ChannelsLastInference = true;
        }
        model.call(image);
        hook.remove();

        long h = 96, w = 160; // padded to multiples of 32
        Assert.Equal(3, layouts.Count); // the check runs the layers without their hooks
        var verdict = ChannelsLastCheck.Run(model.Encoder); // what the first pass measured, from the cache
        output.WriteLine(verdict.ToString());
        Assert.Equal(verdict.Trusted ? new long[] { h * w * 3, 1, w * 3, 3 } : new long[] { 3 * h * w, h * w, w, 1 }, layouts[0]);
        Assert.Equal(new long[] { 3 * h * w, h * w, w, 1 }, layouts[1]);
        Assert.Equal(new long[] { 3 * h * w, h * w, w, 1 }, layouts[2]); // gradients on: training stays NCHW
        Assert.True(nchw.abs().max().item<float>() > 0.01f, "the logits carry signal, so equality below means something");
        Assert.Equal(nchw.stride(), channelsLast.stride());
        Assert.True(channelsLast.allclose(nchw, rtol: 1e-4, atol: 1e-5), $"max difference {(channelsLast - nchw).abs().max().item<float>()}");
        using var bf16 = model.Encoder.LowPrecisionCopy(ScalarType.BFloat16, CPU);
        Assert.False(model.RunsChannelsLast(image, bf16));
    }

    [Fact]
    public void Channels_last_kernels_are_checked_against_nchw_for_every_encoder_layer_kind_and_a_failed_check_runs_nchw()
    {
        using var scope = NewDisposeScope();
        using var model = Fcn.Create("fcn8s", widthDivisor: 16);
        model.eval();
        var image = rand(1, 3, 64, 96);

        var verdict = ChannelsLastCheck.Run(model.Encoder);
        var layout = Fcn.ChannelsLast(image);

        Assert.Equal(1, layout.stride(1)); // what the check runs against NCHW is NHWC in memory
        Assert.Equal(64 * 96, image.stride(1));

        Assert.Equal(LowPrecisionCheck.KindsIn(model.Encoder), verdict.Layers.Select(l => l.Kind));
        Assert.Contains(verdict.Layers, l => l.Kind.Op == "max_pool2d");
        Assert.All(verdict.Layers, l => Assert.InRange(l.Forward, 0, ChannelsLastCheck.Tolerance));
        Assert.Equal($"fp32 channels-last on cpu: {verdict.Layers.Count} layer kinds agree with NCHW", verdict.ToString());
        var failed = ChannelsLastCheck.Run(model.Encoder, tolerance: -1);
        Assert.False(failed.Trusted);
        Assert.Contains("libtorch's kernels disagree with NCHW for ", failed.ToString());
        Assert.Contains("conv2d 3→4 k3 s1 p1: forward ", failed.ToString());
        Assert.EndsWith("(relative error, tolerance -1); inference runs NCHW", failed.ToString());
        using (no_grad())
        {
            Assert.True(model.RunsChannelsLast(image, model.Encoder));
            model.ChannelsLastTolerance = -1; // as if this CPU's channels-last kernels disagreed
            Assert.False(model.RunsChannelsLast(image, model.Encoder));
            model.ChannelsLastTolerance = ChannelsLastCheck.Tolerance;
            model.ChannelsLastInference = false;
            Assert.False(model.RunsChannelsLast(image, model.Encoder));
        }
    }

    [Fact]
    public void Unknown_variant_names_the_known_ones()
    {
        var error = Assert.Throws<ArgumentException>(() => Fcn.Create("fcn4s"));

        Assert.Contains("fcn8s, fcn16s, fcn32s", error.Message);
    }
}
