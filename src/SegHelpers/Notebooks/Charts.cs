using SegHelpers.Data;
using SegHelpers.Evaluation;
using SegHelpers.Training;
using Chart = Plotly.NET.CSharp.Chart;
using Plotly.NET.CSharp;

namespace SegHelpers.Notebooks;

/// <summary>The Plotly.NET charts the notebooks and reports show.</summary>
public static class Charts
{
    /// <summary>Loss (train and validation) beside validation road IoU and MaxF, per epoch.</summary>
    public static Figure TrainingCurves(IEnumerable<EpochMetrics> history)
    {
        var epochs = history.ToList();
        var x = epochs.Select(m => m.Epoch).ToArray();
        var loss = Chart.Combine([
            Chart.Line<int, double, string>(x, epochs.Select(m => m.TrainLoss), Name: "train loss", ShowMarkers: true),
            Chart.Line<int, double, string>(x, epochs.Select(m => m.ValLoss), Name: "val loss", ShowMarkers: true),
        ]).WithXAxisStyle<int, int, string>(TitleText: "epoch").WithYAxisStyle<double, double, string>(TitleText: "cross-entropy");
        var scores = Chart.Combine([
            Chart.Line<int, double, string>(x, epochs.Select(m => m.RoadIoU), Name: "val road IoU", ShowMarkers: true),
            Chart.Line<int, double, string>(x, epochs.Select(m => m.MaxF), Name: "val MaxF", ShowMarkers: true),
        ]).WithXAxisStyle<int, int, string>(TitleText: "epoch").WithYAxisStyle<double, double, string>(TitleText: "score", MinMax: Tuple.Create(0.0, 1.0));
        return Figure.From(Chart.Grid([loss, scores], 1, 2).WithSize(1000, 380));
    }

    /// <summary>The benchmark's precision–recall curve per category (the KITTI site's plot).</summary>
    public static Figure PrecisionRecall(IEnumerable<BenchmarkScores> scores) =>
        Figure.From(Chart.Combine(scores.Select(s =>
                Chart.Line<double, double, string>(s.RecallCurve, s.PrecisionCurve, Name: $"{s.Category} (AP {100 * s.AveragePrecision:F1})")))
            .WithXAxisStyle<double, double, string>(TitleText: "recall", MinMax: Tuple.Create(0.0, 1.0))
            .WithYAxisStyle<double, double, string>(TitleText: "precision", MinMax: Tuple.Create(0.0, 1.02))
            .WithSize(700, 450));

    /// <summary>F-measure against the probability threshold per category; the peak is MaxF.</summary>
    public static Figure FMeasure(IEnumerable<BenchmarkScores> scores) =>
        Figure.From(Chart.Combine(scores.Select(s =>
                Chart.Line<double, double, string>(s.Thresholds, s.FCurve, Name: $"{s.Category} (MaxF {100 * s.MaxF:F1} at {s.BestThreshold:F2})")))
            .WithXAxisStyle<double, double, string>(TitleText: "threshold", MinMax: Tuple.Create(0.0, 1.0))
            .WithYAxisStyle<double, double, string>(TitleText: "F-measure", MinMax: Tuple.Create(0.0, 1.02))
            .WithSize(700, 450));

    /// <summary>Histogram of per-image road IoU.</summary>
    public static Figure IoUDistribution(IEnumerable<ImageScore> images) =>
        Figure.From(Chart.Histogram<double, double, string>(X: images.Where(i => !double.IsNaN(i.RoadIoU)).Select(i => i.RoadIoU).ToArray(), Name: "images")
            .WithXAxisStyle<double, double, string>(TitleText: "road IoU per image", MinMax: Tuple.Create(0.0, 1.0))
            .WithYAxisStyle<double, double, string>(TitleText: "images")
            .WithSize(700, 380));

    /// <summary>Share of road, non-road and don't-care pixels per category.</summary>
    public static Figure ClassBalance(DatasetReport report)
    {
        var rows = report.Categories.Append(report.All).ToList();
        var names = rows.Select(r => r.Name).ToArray();
        return Figure.From(Chart.Combine([
                Chart.Column<double, string, string>(rows.Select(r => r.Road), Keys: names, Name: "road"),
                Chart.Column<double, string, string>(rows.Select(r => r.NonRoad), Keys: names, Name: "non-road"),
                Chart.Column<double, string, string>(rows.Select(r => r.DontCare), Keys: names, Name: "don't care"),
            ])
            .WithYAxisStyle<double, double, string>(TitleText: "share of pixels", MinMax: Tuple.Create(0.0, 1.0))
            .WithSize(700, 380));
    }
}
