namespace SegHelpers.Native;

/// <summary>
/// The machine's memory, for refusing work that cannot fit before it starts. glibc refuses a single allocation larger than
/// memory at once; jemalloc (<see cref="FastAllocator"/>) reserves it unchecked, and the kernel then kills the process once it
/// touches the pages. So sizes no machine of this one's kind can hold are caught here, as bad input.
/// </summary>
public static class MachineMemory
{
    /// <summary>Physical memory in bytes (<c>MemTotal</c> of <c>/proc/meminfo</c>), or null where it cannot be read.</summary>
    public static long? Total()
    {
        const string meminfo = "/proc/meminfo";
        if (!File.Exists(meminfo))
            return null;
        var line = File.ReadLines(meminfo).FirstOrDefault(l => l.StartsWith("MemTotal:", StringComparison.Ordinal));
        var parts = line?.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return parts is { Length: >= 2 } && long.TryParse(parts[1], out long kb) ? kb * 1024 : null;
    }

    /// <summary>
    /// Throws <see cref="BadInputException"/> naming <paramref name="what"/> when <paramref name="bytes"/> alone exceed the
    /// machine's physical memory.
    /// </summary>
    public static void Check(long bytes, string what, string fix)
    {
        if (Total() is long total && bytes > total)
            throw new BadInputException(what, $"needs {bytes / 1e9:F1} GB for one activation alone, and this machine has {total / 1e9:F1} GB of memory", fix);
    }
}
