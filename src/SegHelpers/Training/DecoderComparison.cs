using SegHelpers.Data;
using SegHelpers.Evaluation;
using SegHelpers.Model;

namespace SegHelpers.Training;

/// <summary>One decoder of a <see cref="DecoderComparison"/>: its variant and how its run ended.</summary>
public sealed record DecoderRun(string Variant, TrainingResult Result);

/// <summary>
/// FCN-32s, FCN-16s and FCN-8s trained from scratch on the same data, split and recipe, each into its own run folder
/// (<c>FOLDER/fcn32s</c>, …), then drawn on the same validation image: the paper's comparison of the three decoders.
/// </summary>
public static class DecoderComparison
{
    /// <summary>
    /// One variant's recipe: <paramref name="options"/> with that decoder and at most <c>Epochs − 1</c> warm-up epochs, so
    /// that even a one-epoch comparison trains at the full rate.
    /// </summary>
    public static TrainingOptions Recipe(TrainingOptions options, string variant) =>
        options with { Variant = variant, WarmupEpochs = Math.Min(options.WarmupEpochs, Math.Max(0, options.Epochs - 1)) };

    /// <summary>
    /// Trains the three variants in turn, coarsest first, each starting over in <c><paramref name="folder"/>/VARIANT</c>
    /// (a folder holding anything but a run's own files is refused), and writes one line per variant to <paramref name="log"/>.
    /// </summary>
    public static IReadOnlyList<DecoderRun> Train(string data, string folder, TrainingOptions options, Action<string>? log = null)
    {
        var runs = new List<DecoderRun>();
        foreach (string variant in FcnOptions.Variants.Reverse())
        {
            var run = new RunFolder(Path.Combine(folder, variant));
            run.ClearForNewRun();
            var result = Trainer.Train(data, run.Path, Recipe(options, variant));
            (log ?? Console.WriteLine)($"{variant}: best val road IoU {result.BestRoadIoU:F3} (epoch {result.BestEpoch})");
            runs.Add(new DecoderRun(variant, result));
        }
        return runs;
    }

    /// <summary>
    /// Each run's best model on the first validation image of the runs' split, tinted against its label (<see cref="Overlay.Road"/>),
    /// captioned with the variant and its best validation IoU.
    /// </summary>
    public static IReadOnlyList<(RgbImage Overlay, string Caption)> Overlays(IReadOnlyList<DecoderRun> runs, string device = "auto")
    {
        if (runs.Count == 0)
            return [];
        var info = runs[0].Result.Run.ReadInfo();
        var sample = info.Split(KittiRoad.Open(info.Data)).Validation[0];
        var (image, label) = KittiRoad.LoadPair(sample);
        return runs.Select(r =>
        {
            using var predictor = RoadPredictor.Load(r.Result.Run.Path, RoadPredictor.DefaultOptions(r.Result.Run.Path) with { Device = device });
            return (Overlay.Road(image, predictor.Predict(image), label), $"{r.Variant}: val IoU {r.Result.BestRoadIoU:F3}");
        }).ToList();
    }
}
