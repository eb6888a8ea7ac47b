namespace SegHelpers.Training;

/// <summary>Something a running <see cref="Trainer"/> reports: a step, an epoch, or a message.</summary>
public abstract record TrainingEvent;

/// <summary>One optimizer step finished.</summary>
/// <param name="Epoch">Zero-based epoch.</param>
/// <param name="Step">Zero-based step within the epoch.</param>
/// <param name="StepsPerEpoch">Steps in an epoch.</param>
/// <param name="GlobalStep">Steps since the run began, this one included.</param>
/// <param name="TotalSteps">Steps the whole run takes.</param>
/// <param name="Loss">This step's loss.</param>
/// <param name="LearningRate">The rate used for this step.</param>
/// <param name="ImagesPerSecond">Training throughput over this epoch so far.</param>
/// <param name="Eta">Estimated time to the end of the run.</param>
public sealed record StepEvent(int Epoch, int Step, int StepsPerEpoch, long GlobalStep, long TotalSteps, double Loss, double LearningRate, double ImagesPerSecond, TimeSpan Eta) : TrainingEvent;

/// <summary>An epoch finished and was validated.</summary>
/// <param name="Metrics">What was measured (also the epoch's line in metrics.jsonl).</param>
/// <param name="Eta">Estimated time to the end of the run.</param>
public sealed record EpochEvent(EpochMetrics Metrics, TimeSpan Eta) : TrainingEvent;

/// <summary>A note worth showing (weights loaded, resumed, checkpoint written…).</summary>
public sealed record MessageEvent(string Text) : TrainingEvent;

/// <summary>One epoch's numbers, as written to <c>metrics.jsonl</c>.</summary>
/// <param name="Epoch">One-based epoch number.</param>
/// <param name="TrainLoss">Mean training loss over the epoch's steps.</param>
/// <param name="ValLoss">Mean validation loss.</param>
/// <param name="RoadIoU">Validation road IoU (argmax, evaluated pixels only, at the training size).</param>
/// <param name="MeanIoU">Validation mean IoU over road and non-road.</param>
/// <param name="PixelAccuracy">Validation pixel accuracy.</param>
/// <param name="RoadF1">Validation road F1 at the argmax decision.</param>
/// <param name="MaxF">Validation KITTI MaxF, all categories pooled (URBAN_ROAD), at the training size; <c>seg eval</c> gives it at full size.</param>
/// <param name="LearningRate">Rate at the epoch's last step.</param>
/// <param name="Seconds">Wall time of the epoch (training and validation).</param>
/// <param name="ImagesPerSecond">Training images per second.</param>
/// <param name="ResidentMegabytes">Process resident memory at the epoch's end.</param>
/// <param name="SkippedSteps">Updates skipped so far in the run because the gradients were not finite.</param>
/// <param name="IsBest">Best validation road IoU so far (best.safetensors was written).</param>
public sealed record EpochMetrics(
    int Epoch,
    double TrainLoss,
    double ValLoss,
    [property: System.Text.Json.Serialization.JsonPropertyName("road_iou")] double RoadIoU,
    [property: System.Text.Json.Serialization.JsonPropertyName("mean_iou")] double MeanIoU,
    double PixelAccuracy,
    double RoadF1,
    [property: System.Text.Json.Serialization.JsonPropertyName("max_f")] double MaxF,
    double LearningRate,
    double Seconds,
    double ImagesPerSecond,
    double ResidentMegabytes,
    int SkippedSteps,
    bool IsBest);
