using SegHelpers.Notebooks;
using SegHelpers.Tests.Data;
using SegHelpers.Training;

namespace SegHelpers.Tests.Notebooks;

public class NotebookTrainingTests
{
    static readonly TrainingOptions Tiny = new(Epochs: 2, BatchSize: 4, Height: 32, Width: 96, WidthDivisor: 4, WarmupEpochs: 0, ValidationFraction: 0.25, Device: "cpu");

    [Fact]
    public void Rerunning_the_cell_starts_over_but_never_deletes_what_is_not_the_runs()
    {
        using var dir = new TempDir();
        string data = Kitti.Synthetic(dir, count: 8, height: 48, width: 160);
        string run = dir["run"];
        var frames = new List<object>();

        var first = NotebookTraining.Run(data, run, Tiny, resume: false, new LiveTrainingChart(frames.Add));
        var again = NotebookTraining.Run(data, run, Tiny with { Epochs = 3 }, resume: false, new LiveTrainingChart(frames.Add));
        File.WriteAllText(Path.Combine(run, "notes.txt"), "the user's");
        var refused = Assert.Throws<BadInputException>(() => NotebookTraining.Run(data, run, Tiny, resume: false, new LiveTrainingChart(frames.Add)));

        Assert.Equal((TrainingStatus.Completed, 2), (first.Status, first.Epochs));
        Assert.Equal((TrainingStatus.Completed, 3), (again.Status, again.Epochs));
        Assert.Equal([1, 2, 3], new RunFolder(run).ReadMetrics().Select(m => m.Epoch));
        Assert.Contains("notes.txt", refused.Message);
        Assert.Contains("nothing was deleted", refused.Fix);
        Assert.True(File.Exists(Path.Combine(run, "notes.txt")));
        Assert.True(File.Exists(new RunFolder(run).LastCheckpoint));
    }

    [Fact]
    public void Resume_continues_an_interrupted_run_with_its_earlier_epochs_on_the_chart()
    {
        using var dir = new TempDir();
        string data = Kitti.Synthetic(dir, count: 8, height: 48, width: 160);
        string run = dir["run"];
        using var cancel = new CancellationTokenSource();
        var stopAfterFirstEpoch = new Progress(e => { if (e is EpochEvent) cancel.Cancel(); });
        var interrupted = Trainer.Train(data, run, Tiny with { Epochs = 3 }, stopAfterFirstEpoch, cancel.Token);
        var frames = new List<object>();
        var live = new LiveTrainingChart(frames.Add);

        var resumed = NotebookTraining.Run(data, run, Tiny, resume: true, live);

        Assert.Equal((TrainingStatus.Interrupted, 1), (interrupted.Status, interrupted.Epochs));
        Assert.Equal((TrainingStatus.Completed, 3), (resumed.Status, resumed.Epochs));
        Assert.Equal([1, 2, 3], live.History.Select(m => m.Epoch));
        Assert.True(frames.OfType<Figure>().Count() >= 2, "a frame per newly trained epoch");
    }

    sealed class Progress(Action<TrainingEvent> report) : IProgress<TrainingEvent>
    {
        public void Report(TrainingEvent value) => report(value);
    }
}
