using System.Text.RegularExpressions;
using SegHelpers.Data;

namespace SegHelpers.Tests.Notebooks;

/// <summary>
/// A non-chart output as the two sides of the notebook test may compare it: the HTML with each embedded image replaced by a
/// placeholder (and, in cells that print timings, every number), and the images decoded.
/// </summary>
static partial class ShownOutput
{
    /// <summary>The HTML with images as <c>[image N]</c>, server timings (<c>148 ms</c>) as <c># ms</c>, and with
    /// <paramref name="timed"/> every digit run as <c>#</c>; the images it embeds, in order.</summary>
    public static (string Html, List<RgbImage> Images) Normalise(string html, bool timed)
    {
        var images = new List<RgbImage>();
        string text = DataUri().Replace(html, m =>
        {
            images.Add(ImageFile.DecodeRgb(Convert.FromBase64String(m.Groups[2].Value), $"an embedded image/{m.Groups[1].Value}"));
            return $"[image {images.Count}]";
        });
        text = Milliseconds().Replace(text, "# ms");
        return (timed ? Digits().Replace(text, "#") : text, images);
    }

    /// <summary>
    /// The two pictures are the same: equal sizes, and pixels within <paramref name="meanLevels"/> on average (a re-encoded JPEG,
    /// a float rounding elsewhere), which a stale or another image is not.
    /// </summary>
    public static void AssertSame(string where, RgbImage jupyter, RgbImage seg, double meanLevels = 1.0)
    {
        Assert.True((jupyter.Width, jupyter.Height) == (seg.Width, seg.Height), $"{where}Jupyter shows {jupyter.Width}×{jupyter.Height}, seg {seg.Width}×{seg.Height}");
        double mean = jupyter.Pixels.Zip(seg.Pixels, (a, b) => Math.Abs(a - b)).Average();
        Assert.True(mean <= meanLevels, $"{where}the pictures differ by {mean:F2} levels on average");
    }

    [GeneratedRegex("data:image/(png|jpeg);base64,([A-Za-z0-9+/=]+)")]
    private static partial Regex DataUri();

    [GeneratedRegex(@"\b\d+(\.\d+)? ms\b")]
    private static partial Regex Milliseconds();

    [GeneratedRegex(@"\d+")]
    private static partial Regex Digits();
}
