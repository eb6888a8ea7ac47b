using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace SegHelpers.Model;

/// <summary>
/// VGG16 with its classifier convolutionalised, as in FCN. <c>features</c> mirrors torchvision's
/// <c>vgg16().features</c> index for index (convolutions at 0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28;
/// max-pools at 4, 9, 16, 23, 30), so torchvision weights map one to one. fc6 is a 7×7 convolution
/// 512→4096 and fc7 a 1×1 convolution 4096→4096 (torchvision's <c>classifier.0</c> and <c>classifier.3</c>
/// reshaped), each followed by ReLU and dropout. Returns pool3 (stride 8), pool4 (stride 16) and fc7 (stride 32).
/// Convolutions start as torchvision initialises VGG (Kaiming normal, fan-out, zero bias), which lets the
/// 15 layers without batch normalisation train from scratch. Initialisation and dropout draw from generators seeded by the
/// constructor's seed, never from libtorch's process-wide one.
/// </summary>
public sealed class Vgg16Encoder : Module<Tensor, (Tensor Pool3, Tensor Pool4, Tensor Fc7)>
{
    /// <summary>Output channels of each VGG16 convolution, 'M' (0) marking a max-pool.</summary>
    static readonly int[] Layout = [64, 64, 0, 128, 128, 0, 256, 256, 256, 0, 512, 512, 512, 0, 512, 512, 512, 0];

    private readonly Sequential features;
    private readonly Conv2d fc6;
    private readonly ReLU relu6;
    private readonly SeededDropout drop6;
    private readonly Conv2d fc7;
    private readonly ReLU relu7;
    private readonly SeededDropout drop7;
    private readonly bool _ownsNoise;

    /// <summary>Builds the encoder with channel counts divided by <paramref name="widthDivisor"/>, initialised from <paramref name="seed"/>.</summary>
    public Vgg16Encoder(int widthDivisor = 1, double dropout = 0.5, long seed = 0) : this(widthDivisor, dropout, seed, null)
    {
    }

    Vgg16Encoder(int widthDivisor, double dropout, long seed, DropoutNoise? sharedNoise) : base(nameof(Vgg16Encoder))
    {
        Native.Nnpack.DisableWhereUnsupported();
        if (widthDivisor < 1 || 64 % widthDivisor != 0)
            throw new ArgumentOutOfRangeException(nameof(widthDivisor), widthDivisor, "must divide 64 (1, 2, 4, 8, 16, 32 or 64)");
        WidthDivisor = widthDivisor;
        var layers = new List<(string, Module<Tensor, Tensor>)>();
        long inChannels = 3;
        foreach (int width in Layout)
        {
            if (width == 0)
            {
                layers.Add(($"{layers.Count}", MaxPool2d(2, 2)));
                continue;
            }
            long outChannels = width / widthDivisor;
            layers.Add(($"{layers.Count}", Conv2d(inChannels, outChannels, 3, padding: 1)));
            layers.Add(($"{layers.Count}", ReLU(inplace: true)));
            inChannels = outChannels;
        }
        features = Sequential(layers);
        Pool3Channels = 256 / widthDivisor;
        Pool4Channels = 512 / widthDivisor;
        Fc7Channels = 4096 / widthDivisor;
        fc6 = Conv2d(inChannels, Fc7Channels, 7, padding: 3);
        relu6 = ReLU(inplace: true);
        _ownsNoise = sharedNoise is null;
        Noise = sharedNoise ?? new DropoutNoise(unchecked(seed * 1_000_003L + 1));
        drop6 = new SeededDropout(dropout, Noise);
        fc7 = Conv2d(Fc7Channels, Fc7Channels, 1);
        relu7 = ReLU(inplace: true);
        drop7 = new SeededDropout(dropout, Noise);
        RegisterComponents();
        if (sharedNoise is not null)
            return;
        using (no_grad())
        using (var generator = new Generator(unchecked((ulong)seed), CPU))
        {
            foreach (var conv in modules().OfType<Conv2d>())
            {
                // Kaiming normal, fan-out, ReLU gain: std = √2 / √(out · k · k).
                var w = conv.weight!;
                conv.weight!.normal_(0, Math.Sqrt(2.0 / (w.shape[0] * w.shape[2] * w.shape[3])), generator);
                conv.bias!.zero_();
            }
        }
    }

    /// <summary>
    /// A copy in <paramref name="dtype"/> on <paramref name="device"/> holding this encoder's current weights and drawing its
    /// dropout from this encoder's <see cref="Noise"/> (which stays this encoder's to dispose): the working copy of mixed-precision
    /// training, whose masters are this encoder's fp32 weights.
    /// </summary>
    public Vgg16Encoder LowPrecisionCopy(ScalarType dtype, Device device)
    {
        var copy = new Vgg16Encoder(WidthDivisor, drop6.P, 0, Noise);
        copy.to(device).to(dtype);
        copy.CopyWeightsFrom(this);
        return copy;
    }

    /// <summary>Overwrites this encoder's weights with <paramref name="source"/>'s, cast to this encoder's type.</summary>
    public void CopyWeightsFrom(Vgg16Encoder source)
    {
        using var _ = no_grad();
        foreach (var (target, from) in parameters().Zip(source.parameters()))
            target.copy_(from);
    }

    /// <summary>Channel counts are VGG16's divided by this.</summary>
    public int WidthDivisor { get; }

    /// <summary>The type the weights (and so the activations) are in.</summary>
    public ScalarType DType => parameters().First().dtype;

    /// <summary>The random stream of the fc6 and fc7 dropout layers.</summary>
    public DropoutNoise Noise { get; }

    /// <summary>Channels of pool3.</summary>
    public long Pool3Channels { get; }

    /// <summary>Channels of pool4.</summary>
    public long Pool4Channels { get; }

    /// <summary>Channels of fc7.</summary>
    public long Fc7Channels { get; }

    /// <summary>The 31 torchvision-indexed layers.</summary>
    public Sequential Features => features;

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        if (disposing && _ownsNoise)
            Noise.Dispose();
        base.Dispose(disposing);
    }

    /// <inheritdoc />
    public override (Tensor Pool3, Tensor Pool4, Tensor Fc7) forward(Tensor input)
    {
        var (pools, fc7) = Stages(input);
        return (pools[2], pools[3], fc7);
    }

    /// <summary>Every layer in the order the forward pass runs them, named as in the state dict (<c>features.0</c> … <c>drop7</c>).</summary>
    internal IEnumerable<(string Name, Module<Tensor, Tensor> Layer)> Layers =>
        features.named_children().Select(c => ($"features.{c.name}", (Module<Tensor, Tensor>)c.module))
            .Concat([("fc6", fc6), ("relu6", relu6), ("drop6", drop6), ("fc7", fc7), ("relu7", relu7), ("drop7", drop7)]);

    /// <summary>pool1…pool5 (strides 2 to 32) and fc7, from one pass.</summary>
    public (Tensor[] Pools, Tensor Fc7) Stages(Tensor input)
    {
        var pools = new List<Tensor>(5);
        var x = input;
        foreach (var (_, layer) in Layers)
        {
            x = layer.call(x);
            if (layer is MaxPool2d)
                pools.Add(x);
        }
        return (pools.ToArray(), x);
    }
}
