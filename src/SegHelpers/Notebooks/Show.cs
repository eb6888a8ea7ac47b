using System.Net;
using SegHelpers.Data;
using SegHelpers.Evaluation;
using static TorchSharp.torch;

namespace SegHelpers.Notebooks;

/// <summary>
/// What the notebooks display, as pictures and HTML: samples with their labels, augmentations, feature maps, tables,
/// galleries. The work behind each lives with its stage (<see cref="Presets"/>, <see cref="RoadEvaluation"/>, <see cref="Table"/>).
/// </summary>
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
            tiles.Add(image.ScaledToWidth(width));
            tiles.Add(Overlay.Label(image, mask).ScaledToWidth(width));
        }
        return PngImage.Grid(tiles, 2);
    }

    /// <summary>What the training preset makes of one sample: <paramref name="count"/> random draws, label drawn on each.</summary>
    public static PngImage Augmentations(KittiSample sample, PresetOptions options, int count = 6, int seed = 0) =>
        PngImage.Grid(Presets.Preview(sample, options, count, seed), Math.Min(count, 3));

    /// <summary>The first <paramref name="count"/> channels of a [1, C, H, W] feature map, each scaled to its own range, as a gray grid.</summary>
    public static PngImage FeatureMaps(Tensor features, int count = 8, int columns = 4) => PngImage.Grid(RgbImage.FromChannels(features, count), columns);

    /// <summary>The benchmark table (percent, as the KITTI site shows it; <c>seg eval</c> prints the same).</summary>
    public static HtmlView Benchmark(IEnumerable<BenchmarkScores> scores) => new(Table.Benchmark(scores).ToHtml());

    /// <summary>
    /// The benchmark table in the bird's-eye view with its road IoU, or a line saying why there is none (no calibration).
    /// </summary>
    public static HtmlView BirdsEyeBenchmark(EvaluationReport report) => report.BirdsEye is { } bev
        ? new($"<p>{BirdsEyeView.Resolution} m cells, x {BirdsEyeView.XRange.Min}…{BirdsEyeView.XRange.Max} m, z {BirdsEyeView.ZRange.Min}…{BirdsEyeView.ZRange.Max} m; " +
              $"road IoU at p ≥ 0.5: {bev.Matrix.IoU(RoadLabel.Road):F4}</p>" + Table.Benchmark(bev.Benchmark).ToHtml())
        : new("<p>No bird's-eye view: the dataset has no <code>training/calib</code> folder (KITTI's data_road.zip and <code>seg synth</code> have one).</p>");

    /// <summary>
    /// One labelled image scored both ways: its prediction drawn on the image (road found green, missed red, false blue) and
    /// the same in the bird's-eye view, where the benchmark measures it. Without <paramref name="views"/>, a line saying why not.
    /// </summary>
    public static HtmlView BirdsEye(RoadPredictor predictor, KittiSample sample, BirdsEyeViews? views, int width = 560)
    {
        if (views is null)
            return new("<p>No bird's-eye view: the dataset has no <code>training/calib</code> folder.</p>");
        var (image, mask) = KittiRoad.LoadPair(sample);
        var probability = predictor.Predict(image);
        var view = views.For(sample.ImagePath, image.Width, image.Height);
        var inBev = Overlay.Road(view.Map(image), view.Map(probability), view.MapClasses(mask));
        return Gallery([
            (PngImage.From(Overlay.Road(image, probability, mask).ScaledToWidth(width)), $"{sample.Id} in the camera's perspective"),
            (PngImage.From(inBev.ScaledToWidth(300)), $"{sample.Id} in the bird's-eye view (far end at the top)"),
        ]);
    }

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

    /// <summary>
    /// What an endpoint answered for one image: the overlay it sent back (<c>Accept: image/jpeg</c>) and its JSON summary
    /// (<c>Accept: application/json</c>), as <c>seg serve</c> or a deployed endpoint answers them.
    /// </summary>
    public static HtmlView Served(byte[] overlayJpeg, string summaryJson, int width = 560)
    {
        using var summary = System.Text.Json.JsonDocument.Parse(summaryJson);
        var s = summary.RootElement;
        string caption = string.Create(System.Globalization.CultureInfo.InvariantCulture,
            $"road {100 * s.GetProperty("road_fraction").GetDouble():F1} % of a {s.GetProperty("width").GetInt32()}×{s.GetProperty("height").GetInt32()} image; " +
            $"{s.GetProperty("model").GetString()}, {s.GetProperty("precision").GetString()}; {s.GetProperty("milliseconds").GetDouble():F0} ms in the server");
        return new($"<figure style=\"margin:0\"><img src=\"data:image/jpeg;base64,{Convert.ToBase64String(overlayJpeg)}\" width=\"{width}\" alt=\"served overlay\">" +
                   $"<figcaption>{WebUtility.HtmlEncode(caption)}</figcaption></figure>");
    }

    /// <summary>The <paramref name="count"/> images with the lowest road IoU, drawn with their errors (missed road red, false road blue).</summary>
    public static HtmlView Worst(RoadPredictor predictor, EvaluationReport report, int count = 4, int width = 560) =>
        Gallery(RoadEvaluation.WorstOverlays(predictor, report, count).Select(w => (PngImage.From(w.Overlay.ScaledToWidth(width)), $"{w.Score.Id}: road IoU {w.Score.RoadIoU:F3}")));

    /// <summary>libtorch's and ONNX Runtime's predictions of one image side by side, and their difference map (× 64), captioned with its largest value.</summary>
    public static HtmlView OnnxAgreement(Onnx.OnnxAgreement agreement, RgbImage image, int width = 400) =>
        new(Gallery([
            (PngImage.From(Overlay.Road(image, agreement.Libtorch).ScaledToWidth(width)), "libtorch (TorchSharp)"),
            (PngImage.From(Overlay.Road(image, agreement.OnnxRuntime).ScaledToWidth(width)), $"ONNX Runtime, {Path.GetFileName(agreement.OnnxFile)}"),
            (PngImage.From(agreement.DifferenceImage().ScaledToWidth(width)), "|difference| × 64"),
        ]).Html + $"<p>Largest difference: <b>{agreement.LargestDifference}</b> of 255 levels; {agreement.PixelsDiffering:N0} of {agreement.Libtorch.Values.Length:N0} pixels differ at all, " +
           $"{agreement.MaskPixelsDiffering:N0} change side at p ≥ 0.5.</p>");
}
