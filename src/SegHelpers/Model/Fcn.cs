using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;
using F = TorchSharp.torch.nn.functional;

namespace SegHelpers.Model;

/// <summary>
/// A fully convolutional network: <see cref="Vgg16Encoder"/> + <see cref="FcnDecoder"/>. Takes
/// normalised images [N, 3, H, W] of any size and returns logits [N, classes, H, W]: the input is
/// zero-padded at the bottom and right to a multiple of 32 and the output cropped back. The encoder may be cast to bf16 or
/// fp16 on its own (<see cref="UseEncoderPrecision"/>) while the decoder stays fp32: the input is cast to the encoder's type
/// and its features to the decoder's, so the logits come out in the decoder's type whatever the encoder runs in.
/// </summary>
public sealed class Fcn : Module<Tensor, Tensor>
{
    private readonly Vgg16Encoder encoder;
    private readonly FcnDecoder decoder;

    /// <summary>Builds the network described by <paramref name="options"/>; <paramref name="seed"/> fixes its initialisation and dropout.</summary>
    public Fcn(FcnOptions options, long seed = 0) : base(options.Variant)
    {
        Options = options;
        encoder = new Vgg16Encoder(options.WidthDivisor, options.Dropout, seed);
        decoder = new FcnDecoder(options, encoder.Pool3Channels, encoder.Pool4Channels, encoder.Fc7Channels);
        RegisterComponents();
    }

    /// <summary>The architecture.</summary>
    public FcnOptions Options { get; }

    /// <summary>The VGG16 encoder (for freezing, or loading ImageNet weights).</summary>
    public Vgg16Encoder Encoder => encoder;

    /// <summary>The FCN decoder.</summary>
    public FcnDecoder Decoder => decoder;

    /// <summary>Builds a variant by name: fcn8s, fcn16s or fcn32s.</summary>
    public static Fcn Create(string variant, int numClasses = 2, int widthDivisor = 1, long seed = 0) =>
        new(new FcnOptions(variant, numClasses, widthDivisor), seed);

    /// <summary>Every parameter, counted.</summary>
    public long ParameterCount() => parameters().Sum(p => p.numel());

    /// <summary>
    /// Refuses an input size whose first activation alone (batch × 64/divisor channels × the padded size, fp32) exceeds the
    /// machine's memory: a clear error instead of the kernel's out-of-memory kill.
    /// </summary>
    public static void CheckFits(int batch, long height, long width, int widthDivisor)
    {
        long bytes = (long)Math.Min(long.MaxValue, (double)batch * (64 / Math.Max(1, widthDivisor)) * PaddedSize(height) * PaddedSize(width) * sizeof(float));
        Native.MachineMemory.Check(bytes, $"input size {height}x{width} (batch {batch})", "choose a smaller size or batch (KITTI's images are 375x1242)");
    }

    /// <summary>The size an input side is zero-padded to: the next multiple of 32.</summary>
    public static long PaddedSize(long size) => size + (32 - size % 32) % 32;

    /// <summary>
    /// Inference (gradients off) on a CPU in fp32 runs the encoder on channels-last (NHWC) activations. oneDNN's convolutions
    /// and libtorch's max-pool run faster on them: on the 2-core Xeon of docs/performance.md the first max-pool took 10 ms
    /// instead of 92 and a 64-channel 3×3 convolution 109 instead of 126; the whole full-width FCN-8s gains 3–11 % (up to 19 % in a
    /// quiet stretch). Training stays NCHW, where max-pool's backward in NHWC was slower and the step no faster; so do bf16 and fp16,
    /// whose run-time check (<see cref="LowPrecisionCheck"/>) covers the NCHW kernels. The logits are NCHW either way.
    /// The channels-last kernels are checked against the NCHW ones once per process and layer kind (<see cref="ChannelsLastCheck"/>);
    /// where they disagree, inference runs NCHW. Off: every pass runs NCHW (for comparison).
    /// </summary>
    public bool ChannelsLastInference { get; set; } = true;

    /// <summary>The tolerance this model's channels-last check applies (tests set it below zero to see the fallback).</summary>
    internal double ChannelsLastTolerance { get; set; } = ChannelsLastCheck.Tolerance;

    /// <summary>True when a pass over <paramref name="input"/> by <paramref name="encoderToUse"/> runs channels-last.</summary>
    internal bool RunsChannelsLast(Tensor input, Vgg16Encoder encoderToUse) =>
        ChannelsLastInference && !is_grad_enabled() && input.device_type == DeviceType.CPU && encoderToUse.DType == ScalarType.Float32 &&
        ChannelsLastCheck.Run(encoderToUse, ChannelsLastTolerance).Trusted;

    /// <summary><paramref name="x"/> [N, C, H, W] laid out NHWC: the strides libtorch reads as channels-last.</summary>
    internal static Tensor ChannelsLast(Tensor x) => x.permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2);

    /// <summary>Whether the last forward pass ran the encoder channels-last (what a benchmark reports it timed).</summary>
    internal bool LastPassChannelsLast { get; private set; }

    /// <summary>The type the encoder's weights and activations are in.</summary>
    public ScalarType EncoderPrecision => encoder.DType;

    /// <summary>
    /// Casts the encoder to <paramref name="dtype"/> (bf16, fp16 or fp32), leaving the decoder in fp32. The decoder's
    /// two-channel score layers and transposed convolutions cost almost nothing, and libtorch's low-precision kernels for so
    /// few channels are wrong on some CPUs (see <see cref="LowPrecisionCheck"/>).
    /// </summary>
    public Fcn UseEncoderPrecision(ScalarType dtype)
    {
        encoder.to(dtype);
        return this;
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor input) => Forward(encoder, input);

    /// <summary>
    /// The forward pass with <paramref name="encoderToUse"/> in place of <see cref="Encoder"/>: mixed-precision training runs a
    /// low-precision working copy of the encoder (<see cref="Vgg16Encoder.LowPrecisionCopy"/>) in front of this model's decoder.
    /// </summary>
    public Tensor Forward(Vgg16Encoder encoderToUse, Tensor input)
    {
        long h = input.shape[2], w = input.shape[3];
        long padH = PaddedSize(h) - h, padW = PaddedSize(w) - w;
        var x = padH + padW > 0 ? F.pad(input, [0, padW, 0, padH]) : input;
        x = As(x, encoderToUse.DType);
        LastPassChannelsLast = RunsChannelsLast(x, encoderToUse);
        if (LastPassChannelsLast)
            x = ChannelsLast(x);
        var (pool3, pool4, fc7) = encoderToUse.call(x);
        var decoderType = decoder.parameters().First().dtype;
        var logits = decoder.call(As(pool3, decoderType), As(pool4, decoderType), As(fc7, decoderType));
        return padH + padW > 0 ? logits[.., .., ..(int)h, ..(int)w] : logits;
    }

    static Tensor As(Tensor x, ScalarType dtype) => x.dtype == dtype ? x : x.to(dtype);
}
