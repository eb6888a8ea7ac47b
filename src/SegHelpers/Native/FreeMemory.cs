using System.Runtime;
using System.Runtime.InteropServices;

namespace SegHelpers.Native;

/// <summary>
/// Gives memory that is free but still held back to the system: the .NET heap's (a full, compacting collection) and the
/// native allocator's, where the model's buffers live (jemalloc's <c>arena.&lt;all&gt;.purge</c>, or glibc's <c>malloc_trim</c>).
/// With page decay off (<see cref="FastAllocator.Config"/>) jemalloc keeps every page it ever used, which is what makes
/// training fast and what keeps a server at its peak after a burst; a long-lived server calls this once it is idle.
/// </summary>
public static class FreeMemory
{
    const string PurgeAllArenas = "arena.4096.purge"; // MALLCTL_ARENAS_ALL

    /// <summary>Returns what can be returned; says which allocator did it.</summary>
    public static string Release()
    {
        GCSettings.LargeObjectHeapCompactionMode = GCLargeObjectHeapCompactionMode.CompactOnce;
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        unsafe
        {
            var mallctl = Mallctl();
            if (mallctl != null)
            {
                byte[] name = [.. System.Text.Encoding.ASCII.GetBytes(PurgeAllArenas), 0];
                fixed (byte* n = name)
                    return mallctl(n, null, null, null, 0) == 0 ? "jemalloc purged" : "jemalloc refused the purge";
            }
        }
        if (!OperatingSystem.IsLinux())
            return "the .NET heap only";
        try
        {
            MallocTrim(0);
            return "glibc trimmed";
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return "the .NET heap only";
        }
    }

    /// <summary>jemalloc's <c>opt.dirty_decay_ms</c> as the running allocator has it (-1: never), or null where this process does not run on jemalloc.</summary>
    public static long? DirtyDecayMilliseconds() => ReadSigned("opt.dirty_decay_ms");

    /// <summary>jemalloc's <c>opt.muzzy_decay_ms</c> as the running allocator has it, or null where this process does not run on jemalloc.</summary>
    public static long? MuzzyDecayMilliseconds() => ReadSigned("opt.muzzy_decay_ms");

    static long? ReadSigned(string option)
    {
        unsafe
        {
            var mallctl = Mallctl();
            if (mallctl == null)
                return null;
            byte[] name = [.. System.Text.Encoding.ASCII.GetBytes(option), 0];
            nint value = 0;
            nuint size = (nuint)sizeof(nint);
            fixed (byte* n = name)
                return mallctl(n, &value, &size, null, 0) == 0 ? value : null;
        }
    }

    static unsafe delegate* unmanaged<byte*, void*, nuint*, void*, nuint, int> Mallctl()
    {
        // Only the jemalloc this process already runs on: loading another copy would purge an allocator nobody uses.
        if (!FastAllocator.Active || FastAllocator.MappedLibrary() is not { } library || !NativeLibrary.TryLoad(library, out var handle))
            return null;
        return NativeLibrary.TryGetExport(handle, "mallctl", out var address) ? (delegate* unmanaged<byte*, void*, nuint*, void*, nuint, int>)address : null;
    }

    [DllImport("libc", EntryPoint = "malloc_trim")]
    static extern int MallocTrim(nuint pad);
}
