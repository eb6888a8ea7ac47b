using SegHelpers.Native;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace SegHelpers.Model;

/// <summary>
/// The decoder's score layers (1×1 convolutions) and upsamplers (transposed convolutions) computed as matrix products,
/// with <c>fold</c> (col2im) for the overlap-add of the upsamplers, instead of libtorch's convolution kernels. The layers
/// and their parameters stay <see cref="Conv2d"/> and <see cref="ConvTranspose2d"/>, so checkpoints and PyTorch
/// interchange are unchanged; only how they are computed differs.
/// <para>
/// Why: on the CPUs this project is tested on (2-core AMD EPYC VMs), libtorch 2.10 computes fp32 transposed convolutions
/// with as few channels as the decoder's (one per class) through oneDNN, which intermittently returns NaN for part of the
/// output when running on two threads: 4–44 of 100 repeated identical forward passes of the FCN differed, with the
/// probability maps off by up to 193/255. Matrix products and col2im gave identical results on every repeat and cost
/// next to nothing at 2 channels.
/// </para>
/// </summary>
public static class DecoderKernels
{
    /// <summary>A 1×1 convolution, <c>conv(x)</c>, as one matrix product per image.</summary>
    public static Tensor Score(Conv2d conv, Tensor x)
    {
        var weight = conv.weight!;
        if (weight.shape[2] != 1 || weight.shape[3] != 1 || conv.stride.Any(s => s != 1))
            throw new ArgumentException("score layers are 1×1 convolutions with stride 1", nameof(conv));
        long n = x.shape[0], h = x.shape[2], w = x.shape[3];
        var y = weight.flatten(1).matmul(x.flatten(2));
        if (conv.bias is { } bias)
            y = y.Plus(bias.view(-1, 1));
        return y.view(n, weight.shape[0], h, w);
    }

    /// <summary>
    /// A transposed convolution, <c>up(x)</c>: every input pixel's weighted kernel (a matrix product) added into the output
    /// by <c>fold</c>, exactly as the transposed convolution is defined.
    /// </summary>
    public static Tensor Upsample(ConvTranspose2d up, Tensor x)
    {
        var weight = up.weight!;
        long n = x.shape[0], inChannels = weight.shape[0], outChannels = weight.shape[1], kh = weight.shape[2], kw = weight.shape[3];
        long sh = up.stride[0], sw = up.stride[1], ph = up.padding![0], pw = up.padding![1];
        if (up.dilation.Any(d => d != 1) || up.output_padding.Any(p => p != 0) || up.groups != 1)
            throw new ArgumentException("upsamplers have no dilation, output padding or groups", nameof(up));
        long h = x.shape[2], w = x.shape[3];
        var columns = weight.view(inChannels, outChannels * kh * kw).t().matmul(x.flatten(2));
        var y = F.fold(columns, ((h - 1) * sh - 2 * ph + kh, (w - 1) * sw - 2 * pw + kw), (kh, kw), padding: (ph, pw), stride: (sh, sw));
        if (up.bias is { } bias)
            y = y.Plus(bias.view(1, -1, 1, 1));
        return y;
    }
}
