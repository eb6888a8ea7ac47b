using SegHelpers.Native;
using TorchSharp;
using static TorchSharp.torch;

namespace SegHelpers.Data;

/// <summary>An 8-bit RGB image in row-major, interleaved (HWC) order.</summary>
public sealed record RgbImage(int Width, int Height, byte[] Pixels)
{
    /// <summary>The red, green and blue bytes at (x, y).</summary>
    public (byte R, byte G, byte B) this[int x, int y]
    {
        get
        {
            int i = 3 * (y * Width + x);
            return (Pixels[i], Pixels[i + 1], Pixels[i + 2]);
        }
    }

    /// <summary>A uint8 tensor of shape [3, H, W].</summary>
    public Tensor ToTensor() =>
        torch.tensor(Pixels, [Height, Width, 3], ScalarType.Byte).permute(2, 0, 1).contiguous();

    /// <summary>
    /// An image from a [3, H, W] tensor: uint8 as is, floating point read as 0…1 and clamped.
    /// </summary>
    public static RgbImage FromTensor(Tensor chw)
    {
        if (chw.dim() != 3 || chw.shape[0] != 3)
            throw new ArgumentException($"expected a [3, H, W] tensor, got [{string.Join(", ", chw.shape)}]", nameof(chw));
        using var scope = NewDisposeScope();
        var bytes = chw.dtype == ScalarType.Byte
            ? chw
            : chw.detach().to(ScalarType.Float32).Clamped(0, 1).Times(255).round().to(ScalarType.Byte);
        var hwc = bytes.cpu().permute(1, 2, 0).contiguous();
        return new RgbImage((int)chw.shape[2], (int)chw.shape[1], hwc.data<byte>().ToArray());
    }

    /// <summary>Nearest-neighbour scaling to <paramref name="width"/> pixels wide, aspect kept (for showing, not for the network).</summary>
    public RgbImage ScaledToWidth(int width)
    {
        int height = Math.Max(1, (int)Math.Round((double)Height * width / Width));
        var pixels = new byte[width * height * 3];
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
                Array.Copy(Pixels, 3 * (y * Height / height * Width + x * Width / width), pixels, 3 * (y * width + x), 3);
        return new RgbImage(width, height, pixels);
    }

    /// <summary>The first <paramref name="count"/> channels of a [1, C, H, W] feature map as gray images, each scaled to its own range.</summary>
    public static IReadOnlyList<RgbImage> FromChannels(Tensor features, int count)
    {
        using var scope = NewDisposeScope();
        var maps = features.detach().cpu().to(ScalarType.Float32)[0];
        var images = new List<RgbImage>();
        for (int c = 0; c < Math.Min(count, maps.shape[0]); c++)
        {
            var m = maps[c];
            var gray = (m - m.min()) / (m.max() - m.min()).Clamped(1e-6, double.PositiveInfinity);
            images.Add(FromTensor(gray.unsqueeze(0).expand(3, -1, -1)));
        }
        return images;
    }
}
