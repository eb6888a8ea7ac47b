using SegHelpers.Native;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace SegHelpers.Data;

/// <summary>
/// A transform applied to an image and its mask together, so they can never drift apart.
/// Images are float [3, H, W] (0…1 before <see cref="Normalize"/>); masks are uint8 [H, W]
/// holding <see cref="RoadLabel"/> classes. All randomness comes from <c>rng</c>.
/// </summary>
public interface IPairedTransform
{
    /// <summary>Returns the transformed pair; inputs are left untouched.</summary>
    (Tensor Image, Tensor Mask) Apply(Tensor image, Tensor mask, Random rng);
}

/// <summary>Applies transforms in order.</summary>
public sealed record Compose(params IPairedTransform[] Transforms) : IPairedTransform
{
    /// <inheritdoc />
    public (Tensor Image, Tensor Mask) Apply(Tensor image, Tensor mask, Random rng)
    {
        foreach (var t in Transforms)
            (image, mask) = t.Apply(image, mask, rng);
        return (image, mask);
    }
}

/// <summary>Resizes to a fixed size: the image bilinearly (antialiased), the mask by nearest neighbour.</summary>
public sealed record Resize(int Height, int Width) : IPairedTransform
{
    /// <inheritdoc />
    public (Tensor Image, Tensor Mask) Apply(Tensor image, Tensor mask, Random rng) =>
        (ResizeImage(image, Height, Width), ResizeMask(mask, Height, Width));

    /// <summary>Bilinear, antialiased when shrinking; any float or uint8 [C, H, W] image.</summary>
    public static Tensor ResizeImage(Tensor image, long height, long width)
    {
        if (image.shape[1] == height && image.shape[2] == width)
            return image.alias();
        bool shrinking = height < image.shape[1] || width < image.shape[2];
        var input = image.to(ScalarType.Float32).unsqueeze(0);
        var output = F.interpolate(input, [height, width], mode: InterpolationMode.Bilinear, align_corners: false, antialias: shrinking).squeeze(0);
        return image.dtype == ScalarType.Byte ? output.round().Clamped(0, 255).to(ScalarType.Byte) : output;
    }

    /// <summary>Nearest neighbour, so no new class values appear.</summary>
    public static Tensor ResizeMask(Tensor mask, long height, long width)
    {
        if (mask.shape[0] == height && mask.shape[1] == width)
            return mask.alias();
        var input = mask.to(ScalarType.Float32).unsqueeze(0).unsqueeze(0);
        return F.interpolate(input, [height, width], mode: InterpolationMode.Nearest).squeeze(0).squeeze(0).to(mask.dtype);
    }
}

/// <summary>Mirrors image and mask left–right with probability <see cref="P"/>.</summary>
public sealed record RandomHorizontalFlip(double P = 0.5) : IPairedTransform
{
    /// <inheritdoc />
    public (Tensor Image, Tensor Mask) Apply(Tensor image, Tensor mask, Random rng) =>
        rng.NextDouble() < P ? (image.flip(2), mask.flip(1)) : (image, mask);
}

/// <summary>
/// Rescales to (<see cref="Height"/>, <see cref="Width"/>) times a random factor in
/// [<see cref="MinScale"/>, <see cref="MaxScale"/>], pads what falls short (image 0, mask
/// <see cref="RoadLabel.Ignore"/>) and crops a random <see cref="Height"/>×<see cref="Width"/> window.
/// </summary>
public sealed record RandomScaleCrop(double MinScale, double MaxScale, int Height, int Width) : IPairedTransform
{
    /// <inheritdoc />
    public (Tensor Image, Tensor Mask) Apply(Tensor image, Tensor mask, Random rng)
    {
        double scale = MinScale + (MaxScale - MinScale) * rng.NextDouble();
        long h = Math.Max(1, (long)Math.Round(Height * scale)), w = Math.Max(1, (long)Math.Round(Width * scale));
        image = Resize.ResizeImage(image, h, w);
        mask = Resize.ResizeMask(mask, h, w);
        if (h < Height || w < Width)
        {
            long padH = Math.Max(0, Height - h), padW = Math.Max(0, Width - w);
            image = F.pad(image, [0, padW, 0, padH], PaddingModes.Constant, 0);
            mask = F.pad(mask.unsqueeze(0), [0, padW, 0, padH], PaddingModes.Constant, RoadLabel.Ignore).squeeze(0);
            (h, w) = (h + padH, w + padW);
        }
        int top = rng.Next((int)(h - Height + 1)), left = rng.Next((int)(w - Width + 1));
        return (image[.., top..(top + Height), left..(left + Width)], mask[top..(top + Height), left..(left + Width)]);
    }
}

/// <summary>
/// Random brightness, contrast and saturation, each a factor drawn from [1 − x, 1 + x] (torchvision's
/// ColorJitter without hue), applied to the image only; float 0…1 images.
/// </summary>
public sealed record ColorJitter(double Brightness = 0.3, double Contrast = 0.3, double Saturation = 0.3) : IPairedTransform
{
    /// <inheritdoc />
    public (Tensor Image, Tensor Mask) Apply(Tensor image, Tensor mask, Random rng)
    {
        double b = Factor(Brightness, rng), c = Factor(Contrast, rng), s = Factor(Saturation, rng);
        var x = image.Times(b).Clamped(0, 1);
        var grey = Grey(x);
        x = grey.mean().Plus((x - grey.mean()).Times(c)).Clamped(0, 1);
        grey = Grey(x);
        x = grey.Plus((x - grey).Times(s)).Clamped(0, 1);
        return (x, mask);
    }

    static double Factor(double range, Random rng) => 1 - range + 2 * range * rng.NextDouble();

    static Tensor Grey(Tensor rgb) => rgb[0].Times(0.299).Plus(rgb[1].Times(0.587)).Plus(rgb[2].Times(0.114)).unsqueeze(0);
}

/// <summary>Per-channel (x − mean) / std; defaults are the ImageNet statistics VGG16 was trained with.</summary>
public sealed record Normalize(double[] Mean, double[] Std) : IPairedTransform
{
    /// <summary>ImageNet RGB means.</summary>
    public static readonly double[] ImageNetMean = [0.485, 0.456, 0.406];

    /// <summary>ImageNet RGB standard deviations.</summary>
    public static readonly double[] ImageNetStd = [0.229, 0.224, 0.225];

    /// <summary>ImageNet normalisation.</summary>
    public Normalize() : this(ImageNetMean, ImageNetStd) { }

    /// <inheritdoc />
    public (Tensor Image, Tensor Mask) Apply(Tensor image, Tensor mask, Random rng)
    {
        var mean = torch.tensor(Mean, ScalarType.Float32, image.device).view(3, 1, 1);
        var std = torch.tensor(Std, ScalarType.Float32, image.device).view(3, 1, 1);
        return ((image - mean) / std, mask);
    }

    /// <summary>Undoes the normalisation of a [3, H, W] or [N, 3, H, W] tensor, for display.</summary>
    public Tensor Invert(Tensor image)
    {
        long[] shape = image.dim() == 4 ? [1, 3, 1, 1] : [3, 1, 1];
        var mean = torch.tensor(Mean, ScalarType.Float32, image.device).view(shape);
        var std = torch.tensor(Std, ScalarType.Float32, image.device).view(shape);
        return (image * std).Plus(mean);
    }
}
