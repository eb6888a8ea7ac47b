using System.Diagnostics.Tracing;

namespace SegHelpers.Tests.Native;

/// <summary>
/// Counts the TorchSharp <see cref="TorchSharp.Scalar"/>s the garbage collector finalizes, from the runtime's own
/// FinalizeObject events. A Scalar that reaches its finalizer was never disposed; one passed to libtorch that way can be
/// freed by the finalizer while libtorch still reads it (see <c>SegHelpers.Native.Scalars</c>).
/// </summary>
sealed class FinalizedScalars : EventListener
{
    static readonly long ScalarType = typeof(TorchSharp.Scalar).TypeHandle.Value;
    int _scalars, _events;

    /// <summary>Scalars finalized since the last <see cref="Settle"/>.</summary>
    public int Count => Volatile.Read(ref _scalars);

    /// <summary>
    /// Runs every pending finalizer and waits until its events have arrived (none new for 300 ms; the listener receives them
    /// on the runtime's dispatch thread), then returns how many Scalars were finalized since the last call and counts from zero.
    /// </summary>
    public int Settle()
    {
        for (int i = 0; i < 2; i++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
        }
        int seen = Volatile.Read(ref _events);
        for (int quiet = 0, waited = 0; quiet < 3 && waited < 100; waited++)
        {
            Thread.Sleep(100);
            int now = Volatile.Read(ref _events);
            quiet = now == seen ? quiet + 1 : 0;
            seen = now;
        }
        return Interlocked.Exchange(ref _scalars, 0);
    }

    protected override void OnEventSourceCreated(EventSource source)
    {
        if (source.Name == "Microsoft-Windows-DotNETRuntime")
            EnableEvents(source, EventLevel.Verbose, (EventKeywords)0x1); // GC keyword; FinalizeObject is a verbose GC event
    }

    protected override void OnEventWritten(EventWrittenEventArgs e)
    {
        if (e.EventName != "FinalizeObject")
            return;
        Interlocked.Increment(ref _events);
        if (e.Payload is { Count: > 0 } payload && payload[0] is IntPtr type && (long)type == ScalarType)
            Interlocked.Increment(ref _scalars);
    }
}
