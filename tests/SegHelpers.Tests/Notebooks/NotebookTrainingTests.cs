using SegHelpers.Notebooks;
using SegHelpers.Tests.Data;
using SegHelpers.Tests.Training;
using SegHelpers.Training;

namespace SegHelpers.Tests.Notebooks;

public class NotebookTrainingTests
{
    static readonly TrainingOptions Tiny = new(Epochs: 2, BatchSize: 4, Height: 32, Width: 96, WidthDivisor: 4, WarmupEpochs: 0, ValidationFraction: 0.25, Device: "cpu");

    [Fact]
    public void Rerunning_the_cell_starts_over_and_resume_continues_with_the_earlier_epochs_on_the_chart()
    {
        using var dir = new TempDir();
        string data = Kitti.Synthetic(dir, count: 8, height: 48, width: 160);
        string run = dir["run"];
        var frames = new List<object>();

        var first = NotebookTraining.Run(data, run, Tiny, resume: false, new LiveTrainingChart(frames.Add));
        File.WriteAllText(Path.Combine(run, "stale.txt"), "from the first run");
        var again = NotebookTraining.Run(data, run, Tiny with { Epochs = 3 }, resume: false, new LiveTrainingChart(frames.Add));
        var live = new LiveTrainingChart(frames.Add);
        var resumed = NotebookTraining.Run(data, run, Tiny, resume: true, live);

        Assert.Equal((TrainingStatus.Completed, 2), (first.Status, first.Epochs));
        Assert.Equal((TrainingStatus.Completed, 3), (again.Status, again.Epochs));
        Assert.False(File.Exists(Path.Combine(run, "stale.txt")));
        Assert.Equal(TrainingStatus.Completed, resumed.Status);
        Assert.Equal([1, 2, 3], live.History.Select(m => m.Epoch));
        Assert.Equal(5, frames.OfType<Figure>().Count());
    }
}
