using System.Text.Json;
using System.Text.Json.Serialization;
using SegHelpers.Data;
using static TorchSharp.torch;

namespace SegHelpers.Evaluation;

/// <summary>One image's result at the 0.5 decision.</summary>
/// <param name="Sample">The image and its label.</param>
/// <param name="RoadIoU">Road IoU over its evaluated pixels (NaN when it has neither true nor predicted road).</param>
public sealed record ImageScore(KittiSample Sample, double RoadIoU)
{
    /// <summary>The image id, e.g. <c>um_000012</c>.</summary>
    public string Id => Sample.Id;
}

/// <summary>The benchmark's figures in KITTI's bird's-eye view (see <see cref="BirdsEyeView"/>), the space the leaderboard ranks in.</summary>
/// <param name="Benchmark">MaxF/AP/… per category and URBAN_ROAD over the grid cells each label's view covers.</param>
/// <param name="Matrix">Confusion matrix at the 0.5 decision over those cells.</param>
public sealed record BirdsEyeScores(IReadOnlyList<BenchmarkScores> Benchmark, ConfusionMatrix Matrix)
{
    /// <summary>The pooled URBAN_ROAD scores.</summary>
    public BenchmarkScores Urban => Benchmark.Single(b => b.Category == RoadBenchmark.Urban);
}

/// <summary>What <see cref="RoadEvaluation.Run"/> measured.</summary>
/// <param name="Benchmark">KITTI MaxF/AP/… per category and URBAN_ROAD, in the image's perspective.</param>
/// <param name="Matrix">Confusion matrix at the 0.5 decision over every evaluated pixel.</param>
/// <param name="Images">Per-image road IoU, in input order.</param>
/// <param name="BirdsEye">The same figures in KITTI's bird's-eye view, when asked for.</param>
public sealed record EvaluationReport(IReadOnlyList<BenchmarkScores> Benchmark, ConfusionMatrix Matrix, IReadOnlyList<ImageScore> Images, BirdsEyeScores? BirdsEye = null)
{
    /// <summary>The pooled URBAN_ROAD scores.</summary>
    public BenchmarkScores Urban => Benchmark.Single(b => b.Category == RoadBenchmark.Urban);

    /// <summary>The <paramref name="count"/> images with the lowest road IoU.</summary>
    public IReadOnlyList<ImageScore> Worst(int count = 6) =>
        [.. Images.Where(i => !double.IsNaN(i.RoadIoU)).OrderBy(i => i.RoadIoU).Take(count)];

    /// <summary>
    /// Writes metrics.json atomically: the perspective figures at the top level (<c>"space": "perspective"</c>; benchmark
    /// figures per category without their curves, IoU figures, per-image IoU) and, with <see cref="BirdsEye"/>, the same
    /// figures under <c>"bev"</c> with the grid they were computed on.
    /// </summary>
    public void WriteJson(string path)
    {
        var json = new Dictionary<string, object?> { ["space"] = "perspective" };
        Figures(json, Benchmark, Matrix);
        json["images"] = Images.Select(i => new { id = i.Id, road_iou = i.RoadIoU });
        if (BirdsEye is { } bev)
        {
            var inBev = new Dictionary<string, object?>
            {
                ["space"] = "bev",
                ["grid"] = new
                {
                    cell_m = BirdsEyeView.Resolution, x_m = new[] { BirdsEyeView.XRange.Min, BirdsEyeView.XRange.Max },
                    z_m = new[] { BirdsEyeView.ZRange.Min, BirdsEyeView.ZRange.Max }, width = BirdsEyeView.Width, height = BirdsEyeView.Height,
                },
            };
            Figures(inBev, bev.Benchmark, bev.Matrix);
            json["bev"] = inBev;
        }
        AtomicFile.WriteText(path, JsonSerializer.Serialize(json, Options));
    }

    static void Figures(Dictionary<string, object?> json, IReadOnlyList<BenchmarkScores> benchmark, ConfusionMatrix matrix)
    {
        json["benchmark"] = benchmark.Select(b => new
        {
            category = b.Category, images = b.Images, max_f = b.MaxF, ap = b.AveragePrecision, pre = b.Precision, rec = b.Recall,
            fpr = b.FalsePositiveRate, fnr = b.FalseNegativeRate, best_threshold = b.BestThreshold, positives = b.Positives, negatives = b.Negatives,
        });
        json["road_iou"] = matrix.IoU(RoadLabel.Road);
        json["mean_iou"] = matrix.MeanIoU();
        json["pixel_accuracy"] = matrix.PixelAccuracy();
        json["road_precision"] = matrix.Precision(RoadLabel.Road);
        json["road_recall"] = matrix.Recall(RoadLabel.Road);
        json["road_f1"] = matrix.F1(RoadLabel.Road);
    }

    static readonly JsonSerializerOptions Options = new()
    {
        WriteIndented = true,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };
}

/// <summary>Scores a predictor on labelled images with the benchmark's metrics and the IoU family.</summary>
public static class RoadEvaluation
{
    /// <summary>The splits <see cref="SamplesFor"/> accepts: the run's validation split, or every labelled image.</summary>
    public static readonly IReadOnlyList<string> Splits = ["val", "all"];

    /// <summary>
    /// The labelled images <paramref name="modelPath"/> (a run folder or a checkpoint in one) is scored on: <c>val</c>, its run's
    /// validation split, or <c>all</c>. A checkpoint outside a run folder has no split, so <c>val</c> scores all and
    /// <paramref name="note"/> says so.
    /// </summary>
    public static IReadOnlyList<KittiSample> SamplesFor(KittiRoad data, string modelPath, string split, out string? note)
    {
        if (!Splits.Contains(split))
            throw new ArgumentException($"the split must be {string.Join(" or ", Splits)}, not '{split}'");
        var run = new Training.RunFolder(Directory.Exists(modelPath) ? modelPath : Path.GetDirectoryName(Path.GetFullPath(modelPath))!);
        note = split == "val" && !run.HasRun
            ? $"{modelPath} is not in a run folder, so there is no validation split; scoring all {data.Training.Count} labelled images"
            : null;
        return split == "all" || !run.HasRun ? data.Training : run.ReadInfo().Split(data).Validation;
    }

    /// <summary>
    /// <see cref="Run"/> into <paramref name="folder"/>: the probability maps in <c>probs/</c> and the figures in
    /// <c>metrics.json</c>, what <c>seg eval</c> and notebook 05 leave behind.
    /// </summary>
    public static EvaluationReport RunInto(RoadPredictor predictor, IReadOnlyList<KittiSample> samples, string folder, IProgress<int>? progress = null, BirdsEyeViews? birdsEye = null)
    {
        string maps = Path.Combine(folder, "probs");
        Directory.CreateDirectory(maps);
        var report = Run(predictor, samples, maps, progress, birdsEye);
        report.WriteJson(Path.Combine(folder, "metrics.json"));
        return report;
    }

    /// <summary>
    /// The <paramref name="count"/> images of <paramref name="report"/> with the lowest road IoU, predicted again and drawn
    /// with their errors (<see cref="Overlay.Road"/>: missed road red, false road blue).
    /// </summary>
    public static IReadOnlyList<(RgbImage Overlay, ImageScore Score)> WorstOverlays(RoadPredictor predictor, EvaluationReport report, int count)
    {
        var worst = report.Worst(count);
        var pairs = worst.Select(w => KittiRoad.LoadPair(w.Sample)).ToArray();
        var probabilities = predictor.PredictMany(pairs.Select(p => p.Image)).ToArray();
        return [.. worst.Select((score, i) => (Overlay.Road(pairs[i].Image, probabilities[i], pairs[i].Mask), score))];
    }

    /// <summary>
    /// The bird's-eye views for the labelled images of <paramref name="data"/>: their calibrations in <c>training/calib</c>,
    /// every one of <paramref name="samples"/> checked to have its file first (a missing one is an error naming them).
    /// </summary>
    public static BirdsEyeViews BirdsEyeFor(KittiRoad data, IEnumerable<KittiSample> samples) =>
        BirdsEyeFor(data, samples, required: true)!;

    /// <summary>
    /// As <see cref="BirdsEyeFor(KittiRoad, IEnumerable{KittiSample})"/>, but null when the dataset has no <c>training/calib</c>
    /// and <paramref name="required"/> is false (notebook 05 then scores in perspective only, and says so).
    /// </summary>
    public static BirdsEyeViews? BirdsEyeFor(KittiRoad data, IEnumerable<KittiSample> samples, bool required)
    {
        string folder = Path.Combine(data.Root, "training", "calib");
        if (!Directory.Exists(folder) && !required)
            return null;
        if (!Directory.Exists(folder))
            throw new BadInputException(folder, "folder not found, so there is no bird's-eye view",
                "KITTI ships training/calib in data_road.zip (seg fetch kitti gets it); `seg synth` writes one; or evaluate without --bev");
        var views = new BirdsEyeViews(folder);
        views.RequireAll(samples.Select(s => s.ImagePath));
        return views;
    }

    /// <summary>
    /// Predicts every sample at its own size and scores it. With <paramref name="probabilityFolder"/>, also writes the
    /// KITTI probability maps there (so <c>seg eval --probs</c> and the devkit can score them again). With
    /// <paramref name="birdsEye"/>, also scores each label and map in the bird's-eye view (<see cref="EvaluationReport.BirdsEye"/>).
    /// </summary>
    public static EvaluationReport Run(RoadPredictor predictor, IReadOnlyList<KittiSample> samples, string? probabilityFolder = null, IProgress<int>? progress = null, BirdsEyeViews? birdsEye = null)
    {
        birdsEye?.RequireAll(samples.Where(s => s.LabelPath is not null).Select(s => s.ImagePath));
        var tally = new Tally(samples, birdsEye);
        foreach (var chunk in tally.Labelled.Chunk(predictor.Options.BatchSize))
        {
            var pairs = chunk.Select(KittiRoad.LoadPair).ToArray();
            var probabilities = predictor.PredictMany(pairs.Select(p => p.Image)).ToArray();
            for (int i = 0; i < chunk.Length; i++)
            {
                tally.Add(chunk[i], pairs[i].Image.Width, pairs[i].Image.Height, pairs[i].Mask, probabilities[i].Values);
                if (probabilityFolder is not null)
                    ProbabilityMaps.Write(probabilityFolder, chunk[i], probabilities[i]);
                progress?.Report(tally.Images.Count);
            }
        }
        return tally.Report();
    }

    /// <summary>
    /// Scores a folder of KITTI probability maps (<c>{cat}_road_{NNNNNN}.png</c>, from <c>seg predict --kitti</c> or any other
    /// tool) against the labels of <paramref name="samples"/>, with the same figures as <see cref="Run"/>. Unlike the devkit,
    /// which silently drops a category with a missing map, every missing map is an error.
    /// </summary>
    public static EvaluationReport Score(IReadOnlyList<KittiSample> samples, string probabilityFolder, IProgress<int>? progress = null, BirdsEyeViews? birdsEye = null)
    {
        birdsEye?.RequireAll(samples.Where(s => s.LabelPath is not null).Select(s => s.ImagePath));
        var tally = new Tally(samples, birdsEye);
        foreach (var (sample, path) in ProbabilityMaps.Find(tally.Labelled, probabilityFolder))
        {
            var label = ImageFile.ReadRgb(sample.LabelPath!);
            tally.Add(sample, label.Width, label.Height, RoadLabel.Decode(label, sample.LabelPath!), ProbabilityMaps.Read(path, label.Width, label.Height));
            progress?.Report(tally.Images.Count);
        }
        return tally.Report();
    }

    /// <summary>
    /// The benchmark, the 0.5-decision confusion matrix and per-image IoU, accumulated one image at a time; with bird's-eye
    /// views, the benchmark and matrix again on each image's label and map mapped to the grid.
    /// </summary>
    sealed class Tally
    {
        readonly RoadBenchmark _benchmark = new();
        readonly ConfusionMatrix _matrix = new(2);
        readonly BirdsEyeViews? _views;
        readonly RoadBenchmark _bevBenchmark = new();
        readonly ConfusionMatrix _bevMatrix = new(2);

        public Tally(IReadOnlyList<KittiSample> samples, BirdsEyeViews? views)
        {
            _views = views;
            Labelled = [.. samples.Where(s => s.LabelPath is not null)];
            if (Labelled.Count == 0)
                throw new ArgumentException("no labelled images to evaluate");
        }

        public List<KittiSample> Labelled { get; }

        public List<ImageScore> Images { get; } = [];

        public void Add(KittiSample sample, int width, int height, byte[] mask, byte[] probability)
        {
            _benchmark.Add(sample.Category, probability, mask);
            var single = new ConfusionMatrix(2);
            using (var scope = NewDisposeScope())
            {
                var predicted = tensor(RoadProbability.Decide(probability));
                var truth = tensor(mask);
                single.Update(predicted, truth);
                _matrix.Update(predicted, truth);
            }
            Images.Add(new ImageScore(sample, single.IoU(RoadLabel.Road)));
            if (_views is null)
                return;
            var view = _views.For(sample.ImagePath, width, height);
            var bevMask = view.MapClasses(mask);
            var bevProbability = view.Map(probability, 1);
            _bevBenchmark.Add(sample.Category, bevProbability, bevMask);
            using (var scope = NewDisposeScope())
                _bevMatrix.Update(tensor(RoadProbability.Decide(bevProbability)), tensor(bevMask));
        }

        public EvaluationReport Report() =>
            new(_benchmark.ScoreAll(), _matrix, Images, _views is null ? null : new BirdsEyeScores(_bevBenchmark.ScoreAll(), _bevMatrix));
    }
}
