using System.Runtime.InteropServices;

namespace SegHelpers.Native;

/// <summary>
/// Hands memory that native code (libtorch, oneDNN, SkiaSharp) has freed back to the system. glibc keeps freed blocks in
/// its per-thread arenas; over a training run that shows as resident memory swinging by hundreds of megabytes from epoch
/// to epoch without a leak. Calling this between epochs makes the epoch-end figure reflect what is actually in use.
/// </summary>
public static class NativeMemory
{
    /// <summary>Runs glibc's <c>malloc_trim(0)</c> on Linux; elsewhere (or without glibc) does nothing.</summary>
    public static void Trim()
    {
        if (!OperatingSystem.IsLinux())
            return;
        try
        {
            _ = MallocTrim(0);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            // musl and other C libraries have no malloc_trim.
        }
    }

    [DllImport("libc", EntryPoint = "malloc_trim")]
    static extern int MallocTrim(nuint pad);
}
