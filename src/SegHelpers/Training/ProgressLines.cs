namespace SegHelpers.Training;

/// <summary>
/// The text of training progress, shared by the console (<c>seg train</c>, SageMaker's log) and the notebooks. SageMaker's
/// metric definitions (environment/sagemaker/*.json) read the epoch line: <c>train loss</c>, <c>val loss</c>,
/// <c>road IoU</c> and <c>MaxF</c>, each followed by its number.
/// </summary>
public static class ProgressLines
{
    /// <summary>One epoch's results.</summary>
    public static string Epoch(EpochMetrics m) =>
        $"epoch {m.Epoch}: train loss {m.TrainLoss:F4}  val loss {m.ValLoss:F4}  road IoU {m.RoadIoU:F4}  MaxF {100 * m.MaxF:F2}  " +
        $"{m.ImagesPerSecond:F1} img/s  {m.Seconds:F0}s{(m.IsBest ? "  *best" : "")}";

    /// <summary>Where a step is.</summary>
    public static string Step(StepEvent s) =>
        $"epoch {s.Epoch + 1} step {s.Step + 1}/{s.StepsPerEpoch}  loss {s.Loss:F4}  lr {s.LearningRate:g3}  {s.ImagesPerSecond:F1} img/s  eta {Eta(s.Eta)}";

    /// <summary>Time left as h:mm:ss.</summary>
    public static string Eta(TimeSpan eta) => eta.ToString(@"hh\:mm\:ss", System.Globalization.CultureInfo.InvariantCulture);
}
