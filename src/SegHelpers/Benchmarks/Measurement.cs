namespace SegHelpers.Benchmarks;

/// <summary>One benchmark figure: the median of repeated runs after warm-up, with the spread.</summary>
/// <param name="Name">What was measured, e.g. <c>train fcn8s 160x576 b4</c>.</param>
/// <param name="Unit">images/s, GFLOP/s, MB or %.</param>
/// <param name="Median">Median over <paramref name="Samples"/>.</param>
/// <param name="Min">Smallest sample.</param>
/// <param name="Max">Largest sample.</param>
/// <param name="Samples">Every repeat's value.</param>
/// <param name="Layout">For inference figures, the encoder's memory layout in the passes timed: <c>NCHW</c> or <c>channels-last</c>.</param>
public sealed record Measurement(string Name, string Unit, double Median, double Min, double Max, IReadOnlyList<double> Samples, string? Layout = null)
{
    /// <summary>Summarises <paramref name="samples"/>.</summary>
    public static Measurement Of(string name, string unit, IReadOnlyList<double> samples)
    {
        if (samples.Count == 0)
            throw new ArgumentException($"{name}: no samples");
        var sorted = samples.Order().ToArray();
        double median = sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
        return new Measurement(name, unit, median, sorted[0], sorted[^1], samples);
    }

    /// <summary>Spread as ± half the range, relative to the median.</summary>
    public double RelativeSpread => Median == 0 ? 0 : (Max - Min) / 2 / Math.Abs(Median);
}
