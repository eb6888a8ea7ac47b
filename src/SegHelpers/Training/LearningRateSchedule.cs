namespace SegHelpers.Training;

/// <summary>The learning rate at every optimizer step: linear warm-up (at most half the run), then constant, poly or cosine decay.</summary>
public sealed class LearningRateSchedule(TrainingOptions options, int stepsPerEpoch)
{
    readonly long _total = (long)options.Epochs * stepsPerEpoch;
    readonly long _warmup = (long)Math.Round(options.EffectiveWarmupEpochs * stepsPerEpoch);

    /// <summary>The rate for (zero-based) <paramref name="step"/>.</summary>
    public double At(long step)
    {
        double peak = options.LearningRate;
        if (step < _warmup)
            return peak * (0.1 + 0.9 * step / _warmup);
        double t = _total == _warmup ? 0 : Math.Clamp((double)(step - _warmup) / (_total - _warmup), 0, 1);
        return options.Schedule switch
        {
            "poly" => peak * Math.Pow(1 - t, 0.9),
            "cosine" => peak * 0.5 * (1 + Math.Cos(Math.PI * t)),
            _ => peak,
        };
    }
}
