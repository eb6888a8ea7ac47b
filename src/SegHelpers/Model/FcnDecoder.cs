using SegHelpers.Native;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace SegHelpers.Model;

/// <summary>
/// The FCN decoder: 1×1 score layers on fc7 (<c>score_fr</c>), pool4 (<c>score_pool4</c>) and pool3
/// (<c>score_pool3</c>), fused by addition after learned 2× upsampling (<c>upscore2</c>,
/// <c>upscore_pool4</c>), then a final learned upsampling to the input's stride (<c>upscore</c>: 8×, 16× or 32×).
/// Score layers start at zero and transposed convolutions at bilinear interpolation, as in the paper.
/// For an input padded to a multiple of 32 every stage aligns exactly, so no cropping offsets are needed. The layers are
/// computed by <see cref="DecoderKernels"/>, not by libtorch's convolution kernels.
/// </summary>
public sealed class FcnDecoder : Module<Tensor, Tensor, Tensor, Tensor>
{
    private readonly Conv2d score_fr;
    private readonly Conv2d? score_pool4;
    private readonly Conv2d? score_pool3;
    private readonly ConvTranspose2d? upscore2;
    private readonly ConvTranspose2d? upscore_pool4;
    private readonly ConvTranspose2d upscore;
    private readonly double _pool4Scale, _pool3Scale;

    /// <summary>Builds the decoder for <paramref name="options"/> on an encoder with the given channel counts.</summary>
    public FcnDecoder(FcnOptions options, long pool3Channels, long pool4Channels, long fc7Channels) : base(nameof(FcnDecoder))
    {
        int stride = options.OutputStride;
        long k = options.NumClasses;
        score_fr = Conv2d(fc7Channels, k, 1);
        if (stride <= 16)
        {
            score_pool4 = Conv2d(pool4Channels, k, 1);
            upscore2 = Upsampler(k, 2);
        }
        if (stride == 8)
        {
            score_pool3 = Conv2d(pool3Channels, k, 1);
            upscore_pool4 = Upsampler(k, 2);
        }
        upscore = Upsampler(k, stride);
        (_pool4Scale, _pool3Scale) = options.AtOnceSkipScaling ? (0.01, 0.0001) : (1.0, 1.0);

        using (no_grad())
        {
            foreach (var score in new[] { score_fr, score_pool4, score_pool3 })
            {
                if (score is null)
                    continue;
                score.weight!.zero_();
                score.bias!.zero_();
            }
        }
        RegisterComponents();
    }

    /// <summary>A transposed convolution that upsamples by exactly <paramref name="factor"/>, initialised to bilinear interpolation.</summary>
    public static ConvTranspose2d Upsampler(long channels, int factor)
    {
        var up = ConvTranspose2d(channels, channels, 2 * factor, stride: factor, padding: factor / 2, bias: false);
        using (no_grad())
            up.weight!.copy_(BilinearKernel(channels, 2 * factor));
        return up;
    }

    /// <summary>
    /// Weights [channels, channels, size, size] that make a transposed convolution bilinear upsampling:
    /// each channel maps to itself through the separable triangle kernel, others to zero.
    /// </summary>
    public static Tensor BilinearKernel(long channels, int size)
    {
        int factor = (size + 1) / 2;
        double centre = size % 2 == 1 ? factor - 1 : factor - 0.5;
        var tri = new float[size];
        for (int i = 0; i < size; i++)
            tri[i] = (float)(1 - Math.Abs(i - centre) / factor);
        using var scope = NewDisposeScope();
        var t = torch.tensor(tri);
        var kernel = t.unsqueeze(1) * t.unsqueeze(0);
        var weight = zeros(channels, channels, size, size);
        for (long c = 0; c < channels; c++)
            weight[c, c] = kernel;
        return weight.MoveToOuterDisposeScope();
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor pool3, Tensor pool4, Tensor fc7)
    {
        var x = DecoderKernels.Score(score_fr, fc7);
        if (score_pool4 is not null && upscore2 is not null)
            x = DecoderKernels.Upsample(upscore2, x).Plus(DecoderKernels.Score(score_pool4, _pool4Scale == 1 ? pool4 : pool4.Times(_pool4Scale)));
        if (score_pool3 is not null && upscore_pool4 is not null)
            x = DecoderKernels.Upsample(upscore_pool4, x).Plus(DecoderKernels.Score(score_pool3, _pool3Scale == 1 ? pool3 : pool3.Times(_pool3Scale)));
        return DecoderKernels.Upsample(upscore, x);
    }
}
