using SegHelpers.Data;

namespace SegHelpers.Tests.Data;

/// <summary>Writes small KITTI-layout datasets for tests.</summary>
static class Kitti
{
    public static readonly (byte, byte, byte) Magenta = (255, 0, 255), Red = (255, 0, 0), Black = (0, 0, 0), Blue = (0, 0, 255);

    /// <summary>Synthetic scenes at a tiny size.</summary>
    public static string Synthetic(TempDir dir, int count = 6, int height = 40, int width = 128, int seed = 3, int testCount = 3)
    {
        SyntheticRoads.Write(dir.Path, new SyntheticOptions(count, seed, testCount, height, width));
        return dir.Path;
    }

    /// <summary>A solid-colour image (or label) file.</summary>
    public static void Solid(string path, int width, int height, (byte R, byte G, byte B) colour)
    {
        var pixels = new byte[width * height * 3];
        for (int i = 0; i < pixels.Length; i += 3)
            (pixels[i], pixels[i + 1], pixels[i + 2]) = colour;
        ImageFile.WritePng(path, new RgbImage(width, height, pixels));
    }

    /// <summary>One image/label pair with a solid label colour.</summary>
    public static void Pair(string root, string category, int number, int width = 16, int height = 8, (byte, byte, byte)? label = null)
    {
        Solid(Path.Combine(root, "training", "image_2", $"{category}_{number:D6}.png"), width, height, (90, 90, 90));
        Solid(Path.Combine(root, "training", "gt_image_2", $"{category}_road_{number:D6}.png"), width, height, label ?? Magenta);
    }
}
