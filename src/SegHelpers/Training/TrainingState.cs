namespace SegHelpers.Training;

/// <summary>Where the loop is, saved in every checkpoint so a resumed run continues exactly.</summary>
internal sealed class TrainingState
{
    /// <summary>Epochs completed.</summary>
    public int Epoch { get; set; }

    /// <summary>Batches of the current epoch already trained (non-zero only after an interruption).</summary>
    public int BatchInEpoch { get; set; }

    /// <summary>Optimizer steps so far (drives the schedule).</summary>
    public long GlobalStep { get; set; }

    public double BestRoadIoU { get; set; } = -1;

    /// <summary>Steps whose update was skipped for non-finite gradients, over the whole run.</summary>
    public int SkippedSteps { get; set; }

    public int ConsecutiveSkips { get; set; }

    /// <summary>fp16's loss scale and its clean steps (see <see cref="LossScaler"/>); 0 when not training in fp16.</summary>
    public double LossScale { get; set; }

    public int LossScaleCleanSteps { get; set; }

    public int BestEpoch { get; set; }

    public int EpochsSinceBest { get; set; }

    public double EpochLossSum { get; set; }

    public int EpochSteps { get; set; }

    public int EpochImages { get; set; }

    public double EpochTrainSeconds { get; set; }

    public void StartEpoch()
    {
        BatchInEpoch = 0;
        EpochLossSum = 0;
        EpochSteps = 0;
        EpochImages = 0;
        EpochTrainSeconds = 0;
    }
}
