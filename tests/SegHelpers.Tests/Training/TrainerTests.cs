using System.Security.Cryptography;
using SegHelpers.Model.Weights;
using SegHelpers.Tests.Data;
using SegHelpers.Training;

namespace SegHelpers.Tests.Training;

public class TrainerTests
{
    /// <summary>A tiny FCN-8s on tiny synthetic scenes: a few seconds per run.</summary>
    static readonly TrainingOptions Tiny = new(Epochs: 3, BatchSize: 4, Height: 32, Width: 96, LearningRate: 1e-3,
        WidthDivisor: 4, WarmupEpochs: 0.5, ValidationFraction: 0.25, Seed: 7, Device: "cpu");

    sealed class Events(Action<TrainingEvent>? onEvent = null) : IProgress<TrainingEvent>
    {
        public List<TrainingEvent> All { get; } = [];

        public void Report(TrainingEvent value)
        {
            All.Add(value);
            onEvent?.Invoke(value);
        }
    }

    [Fact]
    public void A_run_folder_holds_options_metrics_best_and_last_and_nothing_else()
    {
        using var data = new TempDir();
        using var runs = new TempDir();
        Kitti.Synthetic(data, count: 12, height: 48, width: 160);
        var events = new Events();

        var result = Trainer.Train(data.Path, runs["r"], Tiny, events);

        Assert.True(result.Status == TrainingStatus.Completed, result.Message);
        Assert.Equal(["best.safetensors", "last.safetensors", "metrics.jsonl", "options.json"],
            Directory.GetFiles(runs["r"]).Select(Path.GetFileName).Order());
        var metrics = result.Run.ReadMetrics();
        Assert.Equal([1, 2, 3], metrics.Select(m => m.Epoch));
        Assert.All(metrics, m => Assert.True(double.IsFinite(m.TrainLoss) && m.RoadIoU is >= 0 and <= 1 && m.MaxF is > 0 and <= 1));
        Assert.All(File.ReadAllLines(result.Run.MetricsFile), line => Assert.Contains("\"max_f\":", line));
        Assert.Equal(Tiny, result.Run.ReadInfo().Options);
        var steps = events.All.OfType<StepEvent>().ToList();
        Assert.Equal(Enumerable.Range(1, steps.Count).Select(i => (long)i), steps.Select(s => s.GlobalStep));
        Assert.Equal(3, events.All.OfType<EpochEvent>().Count());
        var best = StateDict.Read(result.Run.BestCheckpoint);
        Assert.Equal($"{result.BestEpoch}", best.Metadata["seg.epoch"]);
        Assert.DoesNotContain(best, t => t.Name.StartsWith("train."));
        var (model, _) = FcnCheckpoint.Load(result.Run.LastCheckpoint);
        model.Dispose();
    }

    [Fact]
    public void Resuming_after_an_interruption_mid_epoch_repeats_the_uninterrupted_run()
    {
        using var data = new TempDir();
        using var runs = new TempDir();
        Kitti.Synthetic(data, count: 12, height: 48, width: 160);
        var whole = Trainer.Train(data.Path, runs["whole"], Tiny);
        using var cancel = new CancellationTokenSource();
        var stopper = new Events(e => { if (e is StepEvent { GlobalStep: 3 }) cancel.Cancel(); });

        var first = Trainer.Train(data.Path, runs["split"], Tiny, stopper, cancel.Token);
        var resumedEvents = new Events();
        var rest = Trainer.Resume(runs["split"], resumedEvents);

        Assert.Equal(TrainingStatus.Interrupted, first.Status);
        Assert.Equal(1, first.Epochs);
        Assert.Contains("--resume", first.Message);
        Assert.Equal(TrainingStatus.Completed, rest.Status);
        Assert.Equal(4, resumedEvents.All.OfType<StepEvent>().First().GlobalStep);
        var a = whole.History;
        var b = rest.History;
        Assert.Equal(0, a[^1].SkippedSteps + b[^1].SkippedSteps);
        Assert.Equal(a.Count, b.Count);
        // libtorch's CPU kernels are not bit-reproducible here: two identical uninterrupted runs already
        // differ by about 1e-5 in these losses, so the resumed run must match within 1e-3.
        for (int i = 0; i < a.Count; i++)
        {
            Assert.InRange(Math.Abs(a[i].TrainLoss - b[i].TrainLoss), 0, 1e-3);
            Assert.InRange(Math.Abs(a[i].ValLoss - b[i].ValLoss), 0, 1e-3);
            Assert.InRange(Math.Abs(a[i].PixelAccuracy - b[i].PixelAccuracy), 0, 1e-3);
        }
        Assert.Equal(a.Select(m => m.Epoch), rest.Run.ReadMetrics().Select(m => m.Epoch));
    }

    [Fact]
    public void A_metrics_line_torn_by_a_crash_is_dropped_and_its_epoch_trained_again_on_resume()
    {
        using var data = new TempDir();
        using var runs = new TempDir();
        Kitti.Synthetic(data, count: 12, height: 48, width: 160);
        using var cancel = new CancellationTokenSource();
        var stopAfterFirstEpoch = new Events(e => { if (e is EpochEvent) cancel.Cancel(); });
        Trainer.Train(data.Path, runs["r"], Tiny, stopAfterFirstEpoch, cancel.Token);
        var run = new RunFolder(runs["r"]);
        string whole = File.ReadAllLines(run.MetricsFile).Single();
        // The crash: epoch 2's line was half written when the process died, before its checkpoint.
        File.AppendAllText(run.MetricsFile, whole.Replace("\"epoch\":1", "\"epoch\":2")[..(whole.Length / 2)]);

        Assert.Equal([1], run.ReadMetrics().Select(m => m.Epoch));
        var result = Trainer.Resume(runs["r"]);

        Assert.Equal(TrainingStatus.Completed, result.Status);
        Assert.Equal([1, 2, 3], run.ReadMetrics().Select(m => m.Epoch));
        Assert.All(File.ReadAllLines(run.MetricsFile), line => Assert.StartsWith("{\"epoch\":", line));
        File.WriteAllLines(run.MetricsFile, ["{\"epoch\":1", .. File.ReadAllLines(run.MetricsFile)]);
        var broken = Assert.Throws<BadInputException>(() => run.ReadMetrics());
        Assert.Contains("line 1 is not an epoch record", broken.Message);
    }

    [Fact]
    public void A_loss_that_turns_nan_stops_the_run_and_keeps_the_last_good_checkpoint()
    {
        using var data = new TempDir();
        using var runs = new TempDir();
        Kitti.Synthetic(data, count: 12, height: 48, width: 160);
        using var cancel = new CancellationTokenSource();
        var stopAfterFirstEpoch = new Events(e => { if (e is EpochEvent) cancel.Cancel(); });
        Trainer.Train(data.Path, runs["r"], Tiny with { Optimizer = "sgd", Schedule = "constant", WarmupEpochs = 0 }, stopAfterFirstEpoch, cancel.Token);
        var run = new RunFolder(runs["r"]);
        var goodHash = SHA256.HashData(File.ReadAllBytes(run.LastCheckpoint));
        var info = run.ReadInfo();
        run.WriteInfo(info with { Options = info.Options with { LearningRate = 1e12 } });

        var result = Trainer.Resume(runs["r"]);

        Assert.Equal(TrainingStatus.Diverged, result.Status);
        Assert.Matches("loss became (NaN|∞|-?Infinity|-∞) at epoch 2", result.Message);
        Assert.Contains("after epoch 1) is kept", result.Message);
        Assert.Equal(goodHash, SHA256.HashData(File.ReadAllBytes(run.LastCheckpoint)));
        Assert.Single(run.ReadMetrics());
    }

    [Fact]
    public void A_run_folder_that_already_holds_a_run_is_refused()
    {
        using var data = new TempDir();
        using var runs = new TempDir();
        Kitti.Synthetic(data, count: 8, height: 48, width: 160);
        Trainer.Train(data.Path, runs["r"], Tiny with { Epochs = 1 });

        var error = Assert.Throws<BadInputException>(() => Trainer.Train(data.Path, runs["r"], Tiny with { Epochs = 1 }));

        Assert.Contains("already holds a training run", error.Message);
        Assert.Contains("--resume", error.Fix);
    }

    [Fact]
    public void Out_of_range_options_name_the_option()
    {
        var schedule = Assert.Throws<ArgumentException>(() => (Tiny with { Schedule = "step" }).Validate());
        var width = Assert.Throws<ArgumentException>(() => (Tiny with { WidthDivisor = 8 }).Validate());

        Assert.Contains("Schedule must be one of constant, poly, cosine", schedule.Message);
        Assert.Contains("WidthDivisor must be 1, 2 or 4 for training, not 8", width.Message);
    }
}
