namespace SegServe;

/// <summary>
/// How long a request's work takes, learnt from the requests done: a fixed part (the model pass at the network's size) and a
/// part per pixel of the image (decoding, resizing, the full-size probabilities, encoding), each a moving average. Images of
/// at most <see cref="Small"/> pixels teach the fixed part, larger ones the part per pixel.
/// </summary>
sealed class WorkEstimate
{
    /// <summary>Largest image that counts as small: about two KITTI frames.</summary>
    public const long Small = 1_000_000;

    /// <summary>Seconds per pixel before a large image was seen: about twice what this CPU measured (see docs/performance.md).</summary>
    const double SeededPerPixel = 100e-9;

    readonly Lock _lock = new();
    double _fixed, _perPixel = SeededPerPixel;

    /// <param name="warmupSeconds">The warm-up pass, the first guess of the fixed part.</param>
    public WorkEstimate(double warmupSeconds) => _fixed = warmupSeconds;

    /// <summary>Learns from one request's work.</summary>
    public void Add(long pixels, double seconds)
    {
        lock (_lock)
        {
            if (pixels <= Small)
                _fixed = 0.8 * _fixed + 0.2 * Math.Max(0, seconds - pixels * _perPixel);
            else
                _perPixel = 0.8 * _perPixel + 0.2 * Math.Max(0, (seconds - _fixed) / pixels);
        }
    }

    /// <summary>The time <paramref name="requests"/> requests of <paramref name="pixels"/> pixels in all take, one after another.</summary>
    public TimeSpan Of(int requests, long pixels)
    {
        lock (_lock)
            return TimeSpan.FromSeconds(requests * _fixed + pixels * _perPixel);
    }
}
