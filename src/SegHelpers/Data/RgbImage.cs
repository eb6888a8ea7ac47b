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
            : (chw.detach().to(ScalarType.Float32).clamp(0, 1) * 255f).round().to(ScalarType.Byte);
        var hwc = bytes.cpu().permute(1, 2, 0).contiguous();
        return new RgbImage((int)chw.shape[2], (int)chw.shape[1], hwc.data<byte>().ToArray());
    }
}
