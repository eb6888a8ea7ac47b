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

/// <summary>What <see cref="RoadEvaluation.Run"/> measured.</summary>
/// <param name="Benchmark">KITTI MaxF/AP/… per category and URBAN_ROAD.</param>
/// <param name="Matrix">Confusion matrix at the 0.5 decision over every evaluated pixel.</param>
/// <param name="Images">Per-image road IoU, in input order.</param>
public sealed record EvaluationReport(IReadOnlyList<BenchmarkScores> Benchmark, ConfusionMatrix Matrix, IReadOnlyList<ImageScore> Images)
{
    /// <summary>The pooled URBAN_ROAD scores.</summary>
    public BenchmarkScores Urban => Benchmark.Single(b => b.Category == RoadBenchmark.Urban);

    /// <summary>The <paramref name="count"/> images with the lowest road IoU.</summary>
    public IReadOnlyList<ImageScore> Worst(int count = 6) =>
        [.. Images.Where(i => !double.IsNaN(i.RoadIoU)).OrderBy(i => i.RoadIoU).Take(count)];

    /// <summary>Writes metrics.json atomically: benchmark figures per category (curves left out), IoU figures and per-image IoU.</summary>
    public void WriteJson(string path)
    {
        var json = new
        {
            benchmark = Benchmark.Select(b => new
            {
                category = b.Category, images = b.Images, max_f = b.MaxF, ap = b.AveragePrecision, pre = b.Precision, rec = b.Recall,
                fpr = b.FalsePositiveRate, fnr = b.FalseNegativeRate, best_threshold = b.BestThreshold, positives = b.Positives, negatives = b.Negatives,
            }),
            road_iou = Matrix.IoU(RoadLabel.Road),
            mean_iou = Matrix.MeanIoU(),
            pixel_accuracy = Matrix.PixelAccuracy(),
            road_precision = Matrix.Precision(RoadLabel.Road),
            road_recall = Matrix.Recall(RoadLabel.Road),
            road_f1 = Matrix.F1(RoadLabel.Road),
            images = Images.Select(i => new { id = i.Id, road_iou = i.RoadIoU }),
        };
        AtomicFile.WriteText(path, JsonSerializer.Serialize(json, Options));
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
    /// <summary>
    /// The labelled images <paramref name="modelPath"/> (a run folder or a checkpoint in one) is scored on: <c>val</c>, its run's
    /// validation split, or <c>all</c>. A checkpoint outside a run folder has no split, so <c>val</c> scores all and
    /// <paramref name="note"/> says so.
    /// </summary>
    public static IReadOnlyList<KittiSample> SamplesFor(KittiRoad data, string modelPath, string split, out string? note)
    {
        if (split is not ("val" or "all"))
            throw new ArgumentException($"the split must be val or all, not '{split}'");
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
    public static EvaluationReport RunInto(RoadPredictor predictor, IReadOnlyList<KittiSample> samples, string folder, IProgress<int>? progress = null)
    {
        string maps = Path.Combine(folder, "probs");
        Directory.CreateDirectory(maps);
        var report = Run(predictor, samples, maps, progress);
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
    /// Predicts every sample at its own size and scores it. With <paramref name="probabilityFolder"/>, also writes the
    /// KITTI probability maps there (so <c>seg eval --probs</c> and the devkit can score them again).
    /// </summary>
    public static EvaluationReport Run(RoadPredictor predictor, IReadOnlyList<KittiSample> samples, string? probabilityFolder = null, IProgress<int>? progress = null)
    {
        var tally = new Tally(samples);
        foreach (var chunk in tally.Labelled.Chunk(predictor.Options.BatchSize))
        {
            var pairs = chunk.Select(KittiRoad.LoadPair).ToArray();
            var probabilities = predictor.PredictMany(pairs.Select(p => p.Image)).ToArray();
            for (int i = 0; i < chunk.Length; i++)
            {
                tally.Add(chunk[i], pairs[i].Mask, probabilities[i].Values);
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
    public static EvaluationReport Score(IReadOnlyList<KittiSample> samples, string probabilityFolder, IProgress<int>? progress = null)
    {
        var tally = new Tally(samples);
        foreach (var (sample, path) in ProbabilityMaps.Find(tally.Labelled, probabilityFolder))
        {
            var label = ImageFile.ReadRgb(sample.LabelPath!);
            tally.Add(sample, RoadLabel.Decode(label, sample.LabelPath!), ProbabilityMaps.Read(path, label.Width, label.Height));
            progress?.Report(tally.Images.Count);
        }
        return tally.Report();
    }

    /// <summary>The benchmark, the 0.5-decision confusion matrix and per-image IoU, accumulated one image at a time.</summary>
    sealed class Tally
    {
        readonly RoadBenchmark _benchmark = new();
        readonly ConfusionMatrix _matrix = new(2);

        public Tally(IReadOnlyList<KittiSample> samples)
        {
            Labelled = [.. samples.Where(s => s.LabelPath is not null)];
            if (Labelled.Count == 0)
                throw new ArgumentException("no labelled images to evaluate");
        }

        public List<KittiSample> Labelled { get; }

        public List<ImageScore> Images { get; } = [];

        public void Add(KittiSample sample, byte[] mask, byte[] probability)
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
        }

        public EvaluationReport Report() => new(_benchmark.ScoreAll(), _matrix, Images);
    }
}
