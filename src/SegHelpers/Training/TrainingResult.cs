namespace SegHelpers.Training;

/// <summary>How a run ended.</summary>
public enum TrainingStatus
{
    /// <summary>All epochs ran.</summary>
    Completed,

    /// <summary>Validation stopped improving for the early-stopping patience.</summary>
    StoppedEarly,

    /// <summary>Cancelled (Ctrl+C, SIGTERM); <c>last.safetensors</c> holds the position to resume from.</summary>
    Interrupted,

    /// <summary>The loss became NaN or infinite; the last good checkpoint was kept.</summary>
    Diverged,
}

/// <summary>The outcome of <see cref="Trainer.Train(string, string, TrainingOptions, IProgress{TrainingEvent}?, CancellationToken)"/> or <see cref="Trainer.Resume"/>.</summary>
/// <param name="Run">The run folder.</param>
/// <param name="Status">How it ended.</param>
/// <param name="Epochs">Epochs completed.</param>
/// <param name="BestEpoch">One-based epoch of the best validation road IoU (0 if none).</param>
/// <param name="BestRoadIoU">That IoU.</param>
/// <param name="History">Every epoch's metrics, resumed parts included.</param>
/// <param name="Message">One line for people.</param>
public sealed record TrainingResult(RunFolder Run, TrainingStatus Status, int Epochs, int BestEpoch, double BestRoadIoU, IReadOnlyList<EpochMetrics> History, string Message);

/// <summary>Training cannot go on (e.g. CUDA out of memory); the message says what to change.</summary>
public sealed class TrainingFailedException(string message, Exception? inner = null) : Exception(message, inner)
{
    /// <summary>The device ran out of memory for this batch and image size.</summary>
    public static TrainingFailedException OutOfMemory(string device, int batchSize, int height, int width, Exception inner) =>
        new($"{device} ran out of memory at batch size {batchSize} and image size {height}×{width}; lower --batch-size or --size", inner);
}
