using System.Net;
using SegHelpers.Data;
using SegHelpers.Evaluation;
using static TorchSharp.torch;

namespace SegHelpers.Notebooks;

/// <summary>Pictures and tables for notebooks: samples with their labels, augmentations, feature maps, benchmark tables, galleries.</summary>
public static class Show
{
    /// <summary>
    /// <paramref name="count"/> labelled images spread over the categories, each beside its label drawn on it
    /// (road green, don't-care darkened), scaled to <paramref name="width"/> pixels wide.
    /// </summary>
    public static PngImage Samples(KittiRoad data, int count = 6, int width = 480)
    {
        var picked = data.Training.GroupBy(s => s.Category).SelectMany(g => g.Select((s, i) => (s, i))).OrderBy(p => p.i).ThenBy(p => p.s.Category)
            .Take(count).Select(p => p.s).ToList();
        var tiles = new List<RgbImage>();
        foreach (var sample in picked)
        {
            var (image, mask) = KittiRoad.LoadPair(sample);
            tiles.Add(Scale(image, width));
            tiles.Add(Scale(Overlay.Label(image, mask), width));
        }
        return PngImage.Grid(tiles, 2);
    }

    /// <summary>What the training preset makes of one sample: <paramref name="count"/> random draws, label drawn on each.</summary>
    public static PngImage Augmentations(KittiSample sample, PresetOptions options, int count = 6, int seed = 0)
    {
        var (image, mask) = KittiRoad.LoadPair(sample);
        var transform = Presets.Train(options);
        var normalize = new Normalize();
        var tiles = new List<RgbImage>();
        using var scope = NewDisposeScope();
        var x = image.ToTensor().to(ScalarType.Float32).div_(255f);
        var y = tensor(mask, [image.Height, image.Width]);
        for (int i = 0; i < count; i++)
        {
            var (a, b) = transform.Apply(x, y, new Random(seed + i));
            var shown = RgbImage.FromTensor(normalize.Invert(a));
            tiles.Add(Overlay.Label(shown, b.to(ScalarType.Byte).data<byte>().ToArray()));
        }
        return PngImage.Grid(tiles, Math.Min(count, 3));
    }

    /// <summary>The first <paramref name="count"/> channels of a [1, C, H, W] feature map, each scaled to its own range, as a gray grid.</summary>
    public static PngImage FeatureMaps(Tensor features, int count = 8, int columns = 4)
    {
        using var scope = NewDisposeScope();
        var maps = features.detach().cpu().to(ScalarType.Float32)[0];
        var tiles = new List<RgbImage>();
        for (int c = 0; c < Math.Min(count, maps.shape[0]); c++)
        {
            var m = maps[c];
            var range = (m.max() - m.min()).clamp_min(1e-6f);
            var gray = (m - m.min()) / range;
            tiles.Add(RgbImage.FromTensor(gray.unsqueeze(0).expand(3, -1, -1)));
        }
        return PngImage.Grid(tiles, columns);
    }

    /// <summary>The benchmark table (percent, as the KITTI site shows it; <c>seg eval</c> prints the same).</summary>
    public static HtmlView Benchmark(IEnumerable<BenchmarkScores> scores) => new(Table.Benchmark(scores).ToHtml());

    /// <summary>What <c>seg check</c> prints: pairs, sizes and class balance per category.</summary>
    public static HtmlView Dataset(DatasetReport report)
    {
        string sizes = string.Join(", ", report.ImageSizes.Select(s => $"{s.Key} ({s.Value})"));
        string problems = report.Problems.Count == 0 ? "no problems found" : $"<b>{report.Problems.Count} problems</b>: " + WebUtility.HtmlEncode(string.Join("; ", report.Problems.Take(5)));
        return new HtmlView($"<p>{WebUtility.HtmlEncode(report.Root)}: {report.TrainingPairs} labelled pairs, {report.TestImages} test images; sizes {sizes}; {problems}</p>" +
                            Table.Dataset(report).ToHtml());
    }

    /// <summary>A model summary as a table: stage, output shape, parameters.</summary>
    public static HtmlView Summary(IEnumerable<Model.SummaryRow> rows) =>
        new("<table><tr><th>stage</th><th>output shape</th><th>parameters</th></tr>" + string.Concat(rows.Select(r =>
            $"<tr><th>{WebUtility.HtmlEncode(r.Stage)}</th><td>[{string.Join(", ", r.OutputShape)}]</td><td>{r.Parameters:N0}</td></tr>")) + "</table>");

    /// <summary>Images with captions in a flowing gallery.</summary>
    public static HtmlView Gallery(IEnumerable<(PngImage Image, string Caption)> items) =>
        new("<div style=\"display:flex;flex-wrap:wrap;gap:8px\">" + string.Concat(items.Select(i =>
            $"<figure style=\"margin:0\">{i.Image.ToHtml(i.Caption)}<figcaption>{WebUtility.HtmlEncode(i.Caption)}</figcaption></figure>")) + "</div>");

    /// <summary>The <paramref name="count"/> images with the lowest road IoU, drawn with their errors (missed road red, false road blue).</summary>
    public static HtmlView Worst(RoadPredictor predictor, EvaluationReport report, int count = 4, int width = 560)
    {
        var worst = report.Worst(count);
        var items = new List<(PngImage, string)>();
        foreach (var score in worst)
        {
            var (image, label) = KittiRoad.LoadPair(score.Sample);
            var probability = predictor.Predict(image);
            items.Add((PngImage.From(Scale(Overlay.Road(image, probability, label), width)), $"{score.Id}: road IoU {score.RoadIoU:F3}"));
        }
        return Gallery(items);
    }

    /// <summary>Nearest-neighbour scaling to <paramref name="width"/> pixels wide (aspect kept).</summary>
    public static RgbImage Scale(RgbImage image, int width)
    {
        int height = Math.Max(1, (int)Math.Round((double)image.Height * width / image.Width));
        var pixels = new byte[width * height * 3];
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
                Array.Copy(image.Pixels, 3 * (y * image.Height / height * image.Width + x * image.Width / width), pixels, 3 * (y * width + x), 3);
        return new RgbImage(width, height, pixels);
    }
}
