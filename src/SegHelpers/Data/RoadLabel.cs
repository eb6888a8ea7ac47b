namespace SegHelpers.Data;

/// <summary>
/// KITTI Road ground-truth colours and their meaning, decoded exactly as the official devkit does:
/// a pixel is road where blue &gt; 0 and is evaluated where red &gt; 0. Hence magenta (255,0,255) is
/// road, red (255,0,0) is non-road, and black (0,0,0) and blue (0,0,255, road outside the evaluated
/// area) are don't-care, ignored by the loss and the metrics.
/// </summary>
public static class RoadLabel
{
    /// <summary>Class index of non-road pixels.</summary>
    public const byte NonRoad = 0;

    /// <summary>Class index of road pixels.</summary>
    public const byte Road = 1;

    /// <summary>Index of pixels the loss and metrics ignore.</summary>
    public const byte Ignore = 255;

    /// <summary>The colours a KITTI Road label may contain.</summary>
    public static readonly IReadOnlyList<(byte R, byte G, byte B)> Colours =
        [(255, 0, 255), (255, 0, 0), (0, 0, 0), (0, 0, 255)];

    /// <summary>
    /// Class indices (<see cref="NonRoad"/>, <see cref="Road"/>, <see cref="Ignore"/>) per pixel, row-major.
    /// Any colour outside <see cref="Colours"/> is a <see cref="BadInputException"/> naming <paramref name="path"/>.
    /// </summary>
    public static byte[] Decode(RgbImage label, string path)
    {
        var mask = new byte[label.Width * label.Height];
        var p = label.Pixels;
        int bad = 0, firstBad = -1;
        for (int i = 0; i < mask.Length; i++)
        {
            byte r = p[3 * i], g = p[3 * i + 1], b = p[3 * i + 2];
            if (g != 0 || (r != 0 && r != 255) || (b != 0 && b != 255))
            {
                if (bad++ == 0)
                    firstBad = i;
            }
            mask[i] = r > 0 ? (b > 0 ? Road : NonRoad) : Ignore;
        }
        if (bad > 0)
        {
            int x = firstBad % label.Width, y = firstBad / label.Width;
            var (r, g, b) = label[x, y];
            throw new BadInputException(path,
                $"{bad} pixel(s) have colours outside the KITTI road set, the first ({r},{g},{b}) at x={x}, y={y}",
                "labels must use only magenta (255,0,255) road, red (255,0,0) non-road, black (0,0,0) don't-care " +
                "and blue (0,0,255) road outside the evaluated area; re-export the label without anti-aliasing or colour management");
        }
        return mask;
    }

    /// <summary>The KITTI label image for class indices: road magenta, non-road red, ignored black.</summary>
    public static RgbImage Encode(int width, int height, byte[] mask)
    {
        var rgb = new byte[mask.Length * 3];
        for (int i = 0; i < mask.Length; i++)
        {
            (rgb[3 * i], rgb[3 * i + 2]) = mask[i] switch
            {
                Road => ((byte)255, (byte)255),
                NonRoad => ((byte)255, (byte)0),
                _ => ((byte)0, (byte)0),
            };
        }
        return new RgbImage(width, height, rgb);
    }
}
