using SegHelpers.Data;
using TorchSharp;
using static TorchSharp.torch;

namespace SegHelpers.Tests.Data;

public class PairedTransformsTests
{
    /// <summary>An image whose red channel encodes the mask (road 1.0, non-road 0.0) plus a positional ramp in green.</summary>
    static (Tensor Image, Tensor Mask) Encoded(int height, int width, int seed)
    {
        var rng = new Random(seed);
        var mask = new byte[height * width];
        // blocks large enough that nearest and bilinear agree away from edges
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
                mask[y * width + x] = ((x / 16) + (y / 16) + seed) % 3 == 0 ? RoadLabel.Road : RoadLabel.NonRoad;
        var m = torch.tensor(mask, [height, width], ScalarType.Byte);
        var red = m.to(ScalarType.Float32);
        var green = torch.linspace(0, 1, width).expand(height, width);
        var blue = torch.full(height, width, rng.NextSingle());
        return (stack([red, green, blue]), m);
    }

    /// <summary>Share of decisively encoded pixels (red near 0 or 1, i.e. away from blurred edges) whose class matches the mask.</summary>
    static double Agreement(Tensor image, Tensor mask)
    {
        var red = image[0];
        var decisive = (red - 0.5f).abs().gt(0.4f).logical_and(mask.ne(RoadLabel.Ignore));
        var agree = red.gt(0.5f).to(ScalarType.Byte).eq(mask).logical_and(decisive);
        return agree.sum().item<long>() / (double)decisive.sum().item<long>();
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void Train_preset_geometry_keeps_image_and_mask_aligned(int seed)
    {
        using var scope = NewDisposeScope();
        var (image, mask) = Encoded(96, 256, seed);
        var geometry = new Compose(new RandomScaleCrop(0.8, 1.6, 48, 112), new RandomHorizontalFlip(1.0));

        var (outImage, outMask) = geometry.Apply(image, mask, new Random(seed));

        Assert.Equal(new long[] { 3, 48, 112 }, outImage.shape);
        Assert.Equal(new long[] { 48, 112 }, outMask.shape);
        Assert.True(Agreement(outImage, outMask) > 0.99, $"aligned pair agrees on {Agreement(outImage, outMask):P1}");
        Assert.True(Agreement(outImage, outMask.flip(1)) < 0.8, "the check cannot tell a mirrored mask apart");
    }

    [Fact]
    public void Flip_mirrors_both()
    {
        using var scope = NewDisposeScope();
        var (image, mask) = Encoded(16, 32, 0);

        var (fi, fm) = new RandomHorizontalFlip(1.0).Apply(image, mask, new Random(0));

        Assert.True(fi.Same(image.flip(2)));
        Assert.True(fm.Same(mask.flip(1)));
        Assert.Equal(image[1, 0, 0].item<float>(), fi[1, 0, 31].item<float>());
    }

    [Fact]
    public void Scale_crop_pads_masks_with_ignore_when_shrinking_below_the_crop()
    {
        using var scope = NewDisposeScope();
        var (image, mask) = Encoded(40, 80, 0);

        var (i, m) = new RandomScaleCrop(0.5, 0.5, 40, 80).Apply(image, mask, new Random(1));

        Assert.Equal(new long[] { 3, 40, 80 }, i.shape);
        Assert.Equal(new long[] { 40, 80 }, m.shape);
        Assert.Equal(40 * 80 - 20 * 40, m.eq(RoadLabel.Ignore).sum().item<long>());
    }

    [Fact]
    public void Mask_resizing_never_invents_classes()
    {
        using var scope = NewDisposeScope();
        var mask = torch.tensor(new byte[] { 0, 1, 255, 0, 255, 1 }, [2, 3], ScalarType.Byte);

        var resized = Resize.ResizeMask(mask, 7, 11);

        Assert.Equal(new long[] { 7, 11 }, resized.shape);
        var values = resized.unique().Item1.data<byte>().ToArray();
        Assert.Subset(new HashSet<byte> { 0, 1, 255 }, values.ToHashSet());
    }

    [Fact]
    public void Same_seed_same_augmentation()
    {
        using var scope = NewDisposeScope();
        var (image, mask) = Encoded(64, 160, 1);
        var preset = Presets.Train(new PresetOptions(32, 96, MinScale: 0.7, MaxScale: 1.3));

        var a = preset.Apply(image, mask, new Random(42));
        var b = preset.Apply(image, mask, new Random(42));
        var c = preset.Apply(image, mask, new Random(43));

        Assert.True(a.Image.Same(b.Image));
        Assert.True(a.Mask.Same(b.Mask));
        Assert.False(a.Image.Same(c.Image));
    }

    [Fact]
    public void Normalize_uses_imagenet_statistics_and_inverts()
    {
        using var scope = NewDisposeScope();
        var image = torch.full(3, 2, 2, 0.5f);

        var (n, _) = new Normalize().Apply(image, torch.zeros(2, 2), new Random(0));

        Assert.Equal((0.5 - 0.485) / 0.229, n[0, 0, 0].item<float>(), 5);
        Assert.Equal((0.5 - 0.406) / 0.225, n[2, 1, 1].item<float>(), 5);
        Assert.True(new Normalize().Invert(n).allclose(image, atol: 1e-6));
    }
}
