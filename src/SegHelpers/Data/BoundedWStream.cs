using System.Runtime.InteropServices;
using SkiaSharp;

namespace SegHelpers.Data;

/// <summary>
/// A Skia output stream that keeps at most <c>limit</c> bytes: past it, a write fails, and Skia's PNG and JPEG encoders stop
/// at a failed write, so an answer too large to send costs no more encoding than the limit.
/// </summary>
sealed class BoundedWStream(long limit) : SKAbstractManagedWStream
{
    readonly MemoryStream _bytes = new();

    /// <summary>True once a write went past the limit.</summary>
    public bool Overflowed { get; private set; }

    /// <summary>What was written.</summary>
    public byte[] ToArray() => _bytes.ToArray();

    protected override bool OnWrite(IntPtr buffer, IntPtr size)
    {
        long count = (long)size;
        if (Overflowed || _bytes.Length + count > limit)
        {
            Overflowed = true;
            return false;
        }
        unsafe
        {
            _bytes.Write(new ReadOnlySpan<byte>((void*)buffer, checked((int)count)));
        }
        return true;
    }

    protected override void OnFlush()
    {
    }

    protected override IntPtr OnBytesWritten() => (IntPtr)_bytes.Length;

    protected override void Dispose(bool disposing)
    {
        if (disposing)
            _bytes.Dispose();
        base.Dispose(disposing);
    }
}
