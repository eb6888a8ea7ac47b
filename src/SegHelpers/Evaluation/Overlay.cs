using SegHelpers.Data;

namespace SegHelpers.Evaluation;

/// <summary>Pictures of a prediction for people: road tinted on the image, and black/white masks.</summary>
public static class Overlay
{
    /// <summary>
    /// The image with predicted road (p ≥ <paramref name="threshold"/>/255) tinted green. With <paramref name="mask"/>
    /// (a decoded label), missed road is tinted red and false road blue instead, and don't-care pixels are left as they are.
    /// </summary>
    public static RgbImage Road(RgbImage image, RoadProbability probability, byte[]? mask = null, byte threshold = 128, double alpha = 0.45)
    {
        if (probability.Width != image.Width || probability.Height != image.Height)
            throw new ArgumentException($"probability map is {probability.Width}×{probability.Height}, image {image.Width}×{image.Height}");
        var pixels = (byte[])image.Pixels.Clone();
        for (int i = 0; i < probability.Values.Length; i++)
        {
            bool road = probability.Values[i] >= threshold;
            (byte R, byte G, byte B)? tint = mask is null
                ? road ? (0, 220, 0) : null
                : mask[i] == RoadLabel.Ignore ? null
                : road && mask[i] == RoadLabel.Road ? (0, 220, 0)
                : road ? (40, 90, 255)
                : mask[i] == RoadLabel.Road ? (255, 40, 40) : null;
            if (tint is not { } c)
                continue;
            pixels[3 * i] = Blend(pixels[3 * i], c.R, alpha);
            pixels[3 * i + 1] = Blend(pixels[3 * i + 1], c.G, alpha);
            pixels[3 * i + 2] = Blend(pixels[3 * i + 2], c.B, alpha);
        }
        return image with { Pixels = pixels };
    }

    /// <summary>A decoded label drawn on its image: road tinted green, don't-care pixels darkened, non-road as is.</summary>
    public static RgbImage Label(RgbImage image, byte[] mask, double alpha = 0.45)
    {
        if (mask.Length != image.Width * image.Height)
            throw new ArgumentException($"label has {mask.Length} pixels, image {image.Width}×{image.Height}");
        var pixels = (byte[])image.Pixels.Clone();
        for (int i = 0; i < mask.Length; i++)
            for (int c = 0; c < 3; c++)
                pixels[3 * i + c] = mask[i] switch
                {
                    RoadLabel.Road => Blend(pixels[3 * i + c], c == 1 ? (byte)220 : (byte)0, alpha),
                    RoadLabel.Ignore => Blend(pixels[3 * i + c], 0, 0.6),
                    _ => pixels[3 * i + c],
                };
        return image with { Pixels = pixels };
    }

    /// <summary>255 where p ≥ <paramref name="threshold"/>/255, else 0.</summary>
    public static byte[] BinaryMask(RoadProbability probability, byte threshold = 128) =>
        [.. probability.Values.Select(v => v >= threshold ? (byte)255 : (byte)0)];

    static byte Blend(byte under, byte over, double alpha) => (byte)Math.Round(under * (1 - alpha) + over * alpha);
}
