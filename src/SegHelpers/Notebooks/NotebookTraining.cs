using SegHelpers.Training;

namespace SegHelpers.Notebooks;

/// <summary>How the notebooks start a run (04's training, 03's decoder comparison), so that re-running a cell behaves the same every time.</summary>
public static class NotebookTraining
{
    /// <summary>
    /// With <paramref name="resume"/> and a resumable <c>last.safetensors</c> in <paramref name="runFolder"/>, continues that run
    /// (the chart starts from its earlier epochs). Otherwise starts the run over: an earlier run in that folder is replaced,
    /// as re-running a notebook cell is expected to do, but only when the folder holds nothing but a run's own files
    /// (<see cref="RunFolder.ClearForNewRun"/>).
    /// </summary>
    public static TrainingResult Run(string data, string runFolder, TrainingOptions options, bool resume = false, LiveTrainingChart? live = null)
    {
        var run = new RunFolder(runFolder);
        if (resume && run.HasRun && File.Exists(run.LastCheckpoint))
        {
            live?.Seed(run.ReadMetrics());
            return Trainer.Resume(run.Path, live);
        }
        run.ClearForNewRun();
        return Trainer.Train(data, run.Path, options, live);
    }
}
