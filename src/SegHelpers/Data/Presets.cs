using SegHelpers.Native;

namespace SegHelpers.Data;

/// <summary>
/// Preprocessing settings. The default training size 160×576 keeps KITTI's aspect ratio roughly
/// (375×1242 is 3.3:1) at 0.43× scale, which fits CPU training; use 375×1248 (or the full size) on a GPU.
/// </summary>
/// <param name="Height">Training crop height.</param>
/// <param name="Width">Training crop width.</param>
/// <param name="MinScale">Smallest random scale relative to the crop size.</param>
/// <param name="MaxScale">Largest random scale relative to the crop size.</param>
/// <param name="FlipProbability">Chance of a horizontal flip.</param>
/// <param name="Brightness">Brightness jitter range (0 disables).</param>
/// <param name="Contrast">Contrast jitter range (0 disables).</param>
/// <param name="Saturation">Saturation jitter range (0 disables).</param>
public sealed record PresetOptions(
    int Height = 160,
    int Width = 576,
    double MinScale = 1.0,
    double MaxScale = 1.25,
    double FlipProbability = 0.5,
    double Brightness = 0.25,
    double Contrast = 0.25,
    double Saturation = 0.25)
{
    /// <summary>The size images are decoded and cached at, large enough for the biggest random scale.</summary>
    public (int Height, int Width) CacheSize => ((int)Math.Ceiling(Height * MaxScale), (int)Math.Ceiling(Width * MaxScale));
}

/// <summary>The standard train and evaluation pipelines, as in torchvision's segmentation references.</summary>
public static class Presets
{
    /// <summary>Random scale and crop, horizontal flip, colour jitter, ImageNet normalisation.</summary>
    public static IPairedTransform Train(PresetOptions options) => new Compose(
        new RandomScaleCrop(options.MinScale, options.MaxScale, options.Height, options.Width),
        new RandomHorizontalFlip(options.FlipProbability),
        new ColorJitter(options.Brightness, options.Contrast, options.Saturation),
        new Normalize());

    /// <summary>Resize to the model's input size and ImageNet normalisation; nothing random.</summary>
    public static IPairedTransform Eval(int height, int width) => new Compose(new Resize(height, width), new Normalize());

    /// <summary>
    /// What the training preset makes of one labelled sample: <paramref name="count"/> random draws (seeds
    /// <paramref name="seed"/>, <paramref name="seed"/> + 1, …), normalisation undone, the label drawn on each.
    /// </summary>
    public static IReadOnlyList<RgbImage> Preview(KittiSample sample, PresetOptions options, int count, int seed = 0)
    {
        var (image, mask) = KittiRoad.LoadPair(sample);
        var transform = Train(options);
        var normalize = new Normalize();
        var draws = new List<RgbImage>();
        using var scope = TorchSharp.torch.NewDisposeScope();
        var x = image.ToTensor().to(TorchSharp.torch.ScalarType.Float32).OverInPlace(255);
        var y = TorchSharp.torch.tensor(mask, [image.Height, image.Width]);
        for (int i = 0; i < count; i++)
        {
            var (a, b) = transform.Apply(x, y, new Random(seed + i));
            draws.Add(Evaluation.Overlay.Label(RgbImage.FromTensor(normalize.Invert(a)), b.to(TorchSharp.torch.ScalarType.Byte).data<byte>().ToArray()));
        }
        return draws;
    }

    /// <summary>
    /// The network's input for one image, as prediction makes it: 0–1 floats, <see cref="Eval"/> (resize to
    /// <paramref name="height"/>×<paramref name="width"/>, ImageNet normalisation); [3, H, W].
    /// </summary>
    public static TorchSharp.torch.Tensor EvalInput(RgbImage image, int height, int width) => EvalInput(Eval(height, width), image);

    internal static TorchSharp.torch.Tensor EvalInput(IPairedTransform eval, RgbImage image)
    {
        using var scope = TorchSharp.torch.NewDisposeScope();
        var pixels = image.ToTensor().to(TorchSharp.torch.ScalarType.Float32).OverInPlace(255);
        var noLabel = TorchSharp.torch.zeros([image.Height, image.Width], TorchSharp.torch.ScalarType.Byte);
        return eval.Apply(pixels, noLabel, new Random(0)).Image.MoveToOuterDisposeScope();
    }
}
