using System.Text.Json.Nodes;
using SegHelpers.Data;
using SegHelpers.Evaluation;
using SegHelpers.Training;

namespace SegHelpers.Notebooks;

/// <summary>The plotly charts the notebooks and reports show.</summary>
public static class Charts
{
    /// <summary>Loss (train and validation) beside validation road IoU and MaxF, per epoch.</summary>
    public static Figure TrainingCurves(IEnumerable<EpochMetrics> history)
    {
        var epochs = history.ToList();
        var x = epochs.Select(m => (double)m.Epoch).ToList();
        var data = new JsonArray(
            Figure.Line(x, epochs.Select(m => m.TrainLoss), "train loss", markers: true),
            Figure.Line(x, epochs.Select(m => m.ValLoss), "val loss", markers: true),
            Figure.Line(x, epochs.Select(m => m.RoadIoU), "val road IoU", markers: true, axes: "2"),
            Figure.Line(x, epochs.Select(m => m.MaxF), "val MaxF", markers: true, axes: "2"));
        var layout = new JsonObject
        {
            ["width"] = 1000,
            ["height"] = 380,
            ["xaxis"] = Domain(Figure.Axis("epoch"), 0, 0.45),
            ["yaxis"] = Figure.Axis("cross-entropy"),
            ["xaxis2"] = Domain(Figure.Axis("epoch"), 0.55, 1),
            ["yaxis2"] = Anchor(Figure.Axis("score", 0, 1), "x2"),
        };
        return new Figure(data, layout);
    }

    /// <summary>The benchmark's precision–recall curve per category (the KITTI site's plot).</summary>
    public static Figure PrecisionRecall(IEnumerable<BenchmarkScores> scores) => new(
        new JsonArray([.. scores.Select(s => (JsonNode)Figure.Line(s.RecallCurve, s.PrecisionCurve, $"{s.Category} (AP {100 * s.AveragePrecision:F1})"))]),
        Layout(Figure.Axis("recall", 0, 1), Figure.Axis("precision", 0, 1.02), 700, 450));

    /// <summary>F-measure against the probability threshold per category; the peak is MaxF.</summary>
    public static Figure FMeasure(IEnumerable<BenchmarkScores> scores) => new(
        new JsonArray([.. scores.Select(s => (JsonNode)Figure.Line(s.Thresholds, s.FCurve, $"{s.Category} (MaxF {100 * s.MaxF:F1} at {s.BestThreshold:F2})"))]),
        Layout(Figure.Axis("threshold", 0, 1), Figure.Axis("F-measure", 0, 1.02), 700, 450));

    /// <summary>Histogram of per-image road IoU, in bins of 0.05.</summary>
    public static Figure IoUDistribution(IEnumerable<ImageScore> images) => new(
        new JsonArray(Figure.Histogram(images.Where(i => !double.IsNaN(i.RoadIoU)).Select(i => i.RoadIoU), "images", 0, 1, 0.05)),
        Layout(Figure.Axis("road IoU per image", 0, 1), Figure.Axis("images"), 700, 380));

    /// <summary>Share of road, non-road and don't-care pixels per category.</summary>
    public static Figure ClassBalance(DatasetReport report)
    {
        var rows = report.Categories.Append(report.All).ToList();
        var names = rows.Select(r => r.Name).ToList();
        return new Figure(
            new JsonArray(
                Figure.Bar(names, rows.Select(r => r.Road), "road"),
                Figure.Bar(names, rows.Select(r => r.NonRoad), "non-road"),
                Figure.Bar(names, rows.Select(r => r.DontCare), "don't care")),
            Layout(Figure.Axis("category"), Figure.Axis("share of pixels", 0, 1), 700, 380));
    }

    static JsonObject Layout(JsonObject x, JsonObject y, int width, int height) =>
        new() { ["width"] = width, ["height"] = height, ["xaxis"] = x, ["yaxis"] = y };

    static JsonObject Domain(JsonObject axis, double from, double to)
    {
        axis["domain"] = new JsonArray(from, to);
        return axis;
    }

    static JsonObject Anchor(JsonObject axis, string x)
    {
        axis["anchor"] = x;
        return axis;
    }
}
