using SegHelpers.Model;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;
using F = TorchSharp.torch.nn.functional;

namespace SegHelpers.Tests.Model;

public class DecoderKernelsTests
{
    // The references are libtorch's own convolutions in float64, which do not go through oneDNN.
    static double MaxDifference(Tensor a, Tensor b) => (a.to(ScalarType.Float64) - b.to(ScalarType.Float64)).abs().max().item<double>();

    [Theory]
    [InlineData(2, 2, 4, 2, 1, 5, 18, true)]    // upscore2 / upscore_pool4
    [InlineData(2, 2, 16, 8, 4, 10, 36, false)] // fcn8s upscore
    [InlineData(2, 2, 64, 32, 16, 2, 3, false)] // fcn32s upscore
    [InlineData(3, 5, 4, 2, 1, 4, 7, true)]     // more classes, and in ≠ out
    public void Upsample_is_the_transposed_convolution_forward_and_backward(int inC, int outC, int k, int s, int p, int h, int w, bool bias)
    {
        using var scope = NewDisposeScope();
        using var generator = new Generator(3, CPU);
        var up = ConvTranspose2d(inC, outC, k, stride: s, padding: p, bias: bias);
        using (no_grad())
            foreach (var parameter in up.parameters())
                parameter.normal_(0, 1, generator);
        var x = randn([2, inC, h, w], generator: generator).requires_grad_();
        var x64 = x.detach().to(ScalarType.Float64).requires_grad_();
        var w64 = up.weight!.detach().to(ScalarType.Float64).requires_grad_();
        var upstream = randn([2, outC, (h - 1) * s - 2 * p + k, (w - 1) * s - 2 * p + k], generator: generator);

        var y = DecoderKernels.Upsample(up, x);
        var reference = F.conv_transpose2d(x64, w64, up.bias?.detach().to(ScalarType.Float64), [s], [p]);
        var grads = autograd.grad([y], [x, up.weight!], [upstream]);
        var expected = autograd.grad([reference], [x64, w64], [upstream.to(ScalarType.Float64)]);

        Assert.Equal(reference.shape, y.shape);
        Assert.True(MaxDifference(y, reference) < 1e-4, $"output off by {MaxDifference(y, reference)}");
        Assert.True(MaxDifference(grads[0], expected[0]) < 1e-3, $"input gradient off by {MaxDifference(grads[0], expected[0])}");
        Assert.True(MaxDifference(grads[1], expected[1]) < 1e-3, $"weight gradient off by {MaxDifference(grads[1], expected[1])}");
    }

    [Theory]
    [InlineData(64, 2, 3, 10)]
    [InlineData(16, 4, 7, 5)]
    public void Score_is_the_1x1_convolution_forward_and_backward(int inC, int outC, int h, int w)
    {
        using var scope = NewDisposeScope();
        using var generator = new Generator(4, CPU);
        var conv = Conv2d(inC, outC, 1);
        using (no_grad())
            foreach (var parameter in conv.parameters())
                parameter.normal_(0, 1, generator);
        var x = randn([3, inC, h, w], generator: generator).requires_grad_();
        var x64 = x.detach().to(ScalarType.Float64).requires_grad_();
        var w64 = conv.weight!.detach().to(ScalarType.Float64).requires_grad_();
        var b64 = conv.bias!.detach().to(ScalarType.Float64).requires_grad_();
        var upstream = randn([3, outC, h, w], generator: generator);

        var y = DecoderKernels.Score(conv, x);
        var reference = F.conv2d(x64, w64, b64);
        var grads = autograd.grad([y], [x, conv.weight!, conv.bias!], [upstream]);
        var expected = autograd.grad([reference], [x64, w64, b64], [upstream.to(ScalarType.Float64)]);

        Assert.True(MaxDifference(y, reference) < 1e-4);
        for (int i = 0; i < 3; i++)
            Assert.True(MaxDifference(grads[i], expected[i]) < 1e-3, $"gradient {i} off by {MaxDifference(grads[i], expected[i])}");
    }

    [Fact]
    public void Layers_that_are_not_plain_score_or_upsampling_layers_are_refused()
    {
        using var x = zeros(1, 2, 3, 3);

        Assert.Throws<ArgumentException>(() => DecoderKernels.Score(Conv2d(2, 2, 3), x));
        Assert.Throws<ArgumentException>(() => DecoderKernels.Upsample(ConvTranspose2d(2, 2, 4, stride: 2, padding: 1, output_padding: 1), x));
    }
}
