using SegHelpers.Data;

namespace SegHelpers.Notebooks;

/// <summary>A picture for a notebook: PNG bytes, displayed as <c>image/png</c>.</summary>
/// <param name="Png">The encoded file.</param>
/// <param name="Width">Width in pixels.</param>
/// <param name="Height">Height in pixels.</param>
[TypeFormatterSource(typeof(DisplayFormatters), PreferredMimeTypes = ["image/png"])]
public sealed record PngImage(byte[] Png, int Width, int Height)
{
    /// <summary>Encodes <paramref name="image"/>.</summary>
    public static PngImage From(RgbImage image) => new(ImageFile.EncodePng(image), image.Width, image.Height);

    /// <summary>
    /// Tiles images into one picture, <paramref name="columns"/> per row, each scaled (nearest) to the first image's size,
    /// with a 4-pixel white gap.
    /// </summary>
    public static PngImage Grid(IReadOnlyList<RgbImage> images, int columns)
    {
        if (images.Count == 0)
            throw new ArgumentException("no images to show");
        columns = Math.Clamp(columns, 1, images.Count);
        int rows = (images.Count + columns - 1) / columns, w = images[0].Width, h = images[0].Height, gap = 4;
        int width = columns * w + (columns - 1) * gap, height = rows * h + (rows - 1) * gap;
        var pixels = new byte[width * height * 3];
        Array.Fill(pixels, (byte)255);
        for (int k = 0; k < images.Count; k++)
        {
            var image = images[k];
            int ox = k % columns * (w + gap), oy = k / columns * (h + gap);
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++)
                {
                    int source = 3 * (y * image.Height / h * image.Width + x * image.Width / w);
                    Array.Copy(image.Pixels, source, pixels, 3 * ((oy + y) * width + ox + x), 3);
                }
        }
        return From(new RgbImage(width, height, pixels));
    }

    /// <summary>An <c>img</c> tag with the PNG inline.</summary>
    public string ToHtml(string? alt = null) =>
        $"<img src=\"data:image/png;base64,{Convert.ToBase64String(Png)}\" width=\"{Width}\" alt=\"{System.Net.WebUtility.HtmlEncode(alt ?? "")}\">";

    /// <summary>Writes the PNG atomically.</summary>
    public void Save(string path) => AtomicFile.Write(path, s => s.Write(Png));

    /// <inheritdoc/>
    public override string ToString() => $"PNG {Width}×{Height}";
}
