namespace SegHelpers.Training;

/// <summary>
/// Dynamic loss scaling for fp16 training, as PyTorch's <c>GradScaler</c> does it: the loss is multiplied by
/// <see cref="Scale"/> before backward so small fp16 gradients do not flush to zero; a step whose gradients came back
/// infinite or NaN is skipped and the scale halved; after <see cref="GrowthInterval"/> clean steps in a row it doubles.
/// Its two numbers go into every checkpoint, so a resumed run scales exactly as the uninterrupted one.
/// </summary>
/// <param name="Scale">The current multiplier (starts at 2¹⁶).</param>
/// <param name="CleanSteps">Clean steps since the scale last changed.</param>
public sealed record LossScaler(double Scale = 65536, int CleanSteps = 0)
{
    /// <summary>Clean steps in a row after which the scale doubles.</summary>
    public const int GrowthInterval = 2000;

    /// <summary>Below this the gradients are non-finite for a reason scaling cannot fix.</summary>
    public const double MinScale = 1.0 / (1 << 24);

    /// <summary>The scaler after a step whose unscaled gradients were <paramref name="finite"/> or not.</summary>
    public LossScaler After(bool finite) => finite
        ? CleanSteps + 1 >= GrowthInterval ? new LossScaler(Scale * 2, 0) : this with { CleanSteps = CleanSteps + 1 }
        : new LossScaler(Scale / 2, 0);

    /// <summary>True once the scale has fallen below <see cref="MinScale"/>: the run has diverged.</summary>
    public bool Exhausted => Scale < MinScale;
}
