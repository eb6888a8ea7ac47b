namespace SegHelpers.Training;

/// <summary>
/// What may change when a run is resumed: how long it goes on, where and in which precision it runs (the checkpoint holds fp32
/// master weights whatever the precision), and how often it checkpoints or gives up. Everything
/// else (data, size, model, optimizer, learning rate, schedule shape, seed) would make the resumed run a different run, so
/// <c>seg train --resume</c> refuses those by name. More epochs stretch the learning-rate schedule over the longer run.
/// </summary>
/// <param name="Epochs">A new total number of epochs (at least those already done).</param>
/// <param name="Device">A new device: <c>auto</c>, <c>cpu</c>, <c>cuda</c> or <c>cuda:N</c>.</param>
/// <param name="CheckpointEvery">A new checkpoint interval.</param>
/// <param name="EarlyStoppingPatience">A new early-stopping patience.</param>
/// <param name="Precision">A new training precision: <c>fp32</c>, <c>bf16</c>, <c>fp16</c> or <c>auto</c>.</param>
public sealed record ResumeChanges(int? Epochs = null, string? Device = null, int? CheckpointEvery = null, int? EarlyStoppingPatience = null, string? Precision = null)
{
    /// <summary>The <c>seg train</c> options a resume may change, by their command-line names.</summary>
    public static readonly IReadOnlyList<string> OptionNames = ["--epochs", "--device", "--checkpoint-every", "--early-stopping", "--precision"];

    /// <summary><paramref name="options"/> with these changes applied.</summary>
    public TrainingOptions ApplyTo(TrainingOptions options) => options with
    {
        Epochs = Epochs ?? options.Epochs,
        Device = Device ?? options.Device,
        CheckpointEvery = CheckpointEvery ?? options.CheckpointEvery,
        EarlyStoppingPatience = EarlyStoppingPatience ?? options.EarlyStoppingPatience,
        Precision = Precision ?? options.Precision,
    };
}
