using SegHelpers.Data;

namespace SegHelpers.Evaluation;

/// <summary>
/// KITTI submission probability maps: one 8-bit grayscale PNG per image, named <c>{cat}_road_{NNNNNN}.png</c>
/// (<see cref="KittiSample.ResultName"/>), value = road probability × 255, the image's own size.
/// This is the folder layout the devkit's <c>evaluateRoad.py</c> reads and the benchmark's server expects.
/// </summary>
public static class ProbabilityMaps
{
    /// <summary>Writes <paramref name="sample"/>'s map into <paramref name="folder"/> under its KITTI name, atomically.</summary>
    public static void Write(string folder, KittiSample sample, RoadProbability probability) =>
        Write(Path.Combine(folder, sample.ResultName()), probability);

    /// <summary>Writes one map to <paramref name="path"/> atomically (any name: <c>seg predict</c> without <c>--kitti</c>).</summary>
    public static void Write(string path, RoadProbability probability) =>
        ImageFile.WriteGrayPng(path, probability.Width, probability.Height, probability.Values);

    /// <summary>Reads one map; it must be grayscale and <paramref name="width"/>×<paramref name="height"/>.</summary>
    public static byte[] Read(string path, int width, int height)
    {
        var rgb = ImageFile.ReadRgb(path);
        if (rgb.Width != width || rgb.Height != height)
            throw new BadInputException(path, $"is {rgb.Width}×{rgb.Height} but its label is {width}×{height}",
                "write probability maps at the original image size (seg predict --kitti does)");
        var gray = new byte[width * height];
        for (int i = 0; i < gray.Length; i++)
        {
            byte r = rgb.Pixels[3 * i], g = rgb.Pixels[3 * i + 1], b = rgb.Pixels[3 * i + 2];
            if (r != g || g != b)
                throw new BadInputException(path, $"is not grayscale (pixel {i % width},{i / width} is {r},{g},{b})",
                    "write 8-bit grayscale maps with value = road probability × 255");
            gray[i] = r;
        }
        return gray;
    }

    /// <summary>
    /// Each labelled sample's map in <paramref name="folder"/>, every one checked to exist first: a missing map is an error
    /// that names them (the devkit would silently drop the category).
    /// </summary>
    public static IReadOnlyList<(KittiSample Sample, string Path)> Find(IEnumerable<KittiSample> samples, string folder)
    {
        if (!Directory.Exists(folder))
            throw new BadInputException(folder, "folder not found", "pass the folder holding {cat}_road_NNNNNN.png maps (seg predict --kitti writes one)");
        var list = samples.Where(s => s.LabelPath is not null).Select(s => (Sample: s, Path: System.IO.Path.Combine(folder, s.ResultName()))).ToList();
        var missing = list.Where(s => !File.Exists(s.Path)).Select(s => s.Sample.ResultName()).ToList();
        if (missing.Count > 0)
            throw new BadInputException(folder, $"lacks {missing.Count} of {list.Count} probability maps ({string.Join(", ", missing.Take(5))}{(missing.Count > 5 ? ", …" : "")})",
                "write a map for every labelled image, named as its label (e.g. um_road_000000.png)");
        return list;
    }
}
