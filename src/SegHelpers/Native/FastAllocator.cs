using System.Diagnostics;
using System.Runtime.InteropServices;

namespace SegHelpers.Native;

/// <summary>
/// The memory allocator setting the model runs fastest with. With glibc's defaults every buffer above its mmap threshold (at
/// most 32 MB; one activation of a batch is more) is a fresh mapping, so every pass faults in and zeroes gigabytes of new pages:
/// a third of the CPU goes to the kernel. jemalloc with page decay off keeps freed memory for reuse (measured here: training
/// 2–3 times as fast, peak memory about 10 % higher; see docs/performance.md). It must be loaded before the process starts
/// (<c>LD_PRELOAD</c>), so <c>seg</c> starts itself again with it (<see cref="Reexecute"/>), and the notebook kernel's spec sets it.
/// Where jemalloc is not installed, glibc is tuned in-process instead (<see cref="TuneGlibc"/>) and one line says what to
/// install. <c>SEG_ALLOCATOR=system</c> keeps glibc's defaults.
/// </summary>
public static class FastAllocator
{
    /// <summary>jemalloc's settings: never give pages back while running (no decay), no background thread.</summary>
    public const string Config = "dirty_decay_ms:-1,muzzy_decay_ms:-1,background_thread:false";

    /// <summary>The variable that chooses: unset or <c>jemalloc</c> (the default), or <c>system</c> (glibc's defaults).</summary>
    public const string ChoiceVariable = "SEG_ALLOCATOR";

    /// <summary>A jemalloc library to use instead of the usual places.</summary>
    public const string LibraryVariable = "SEG_JEMALLOC";

    const string Marker = "SEG_ALLOCATOR_STARTED";

    static readonly string[] Places =
    [
        "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2", // Debian, Ubuntu: libjemalloc2
        "/usr/lib64/libjemalloc.so.2", // Amazon Linux 2023: jemalloc
        "/usr/lib/aarch64-linux-gnu/libjemalloc.so.2",
        "/usr/lib/libjemalloc.so.2",
    ];

    /// <summary>The jemalloc library to preload: <c>SEG_JEMALLOC</c> when set, else the first of the distributions' places that exists; null when none.</summary>
    public static string? Library()
    {
        if (Environment.GetEnvironmentVariable(LibraryVariable) is { Length: > 0 } chosen)
            return File.Exists(chosen) ? chosen : null;
        return Places.FirstOrDefault(File.Exists);
    }

    /// <summary>True when this process runs on jemalloc (it is mapped: preloaded or linked).</summary>
    public static bool Active => MappedLibrary() is not null;

    /// <summary>The path of the jemalloc library mapped into this process, or null.</summary>
    public static string? MappedLibrary() =>
        File.Exists("/proc/self/maps")
            ? File.ReadLines("/proc/self/maps").Where(l => l.Contains("libjemalloc", StringComparison.Ordinal)).Select(l => l[l.IndexOf('/')..]).FirstOrDefault()
            : null;

    /// <summary>True when <c>SEG_ALLOCATOR=system</c> asks for glibc's defaults.</summary>
    public static bool SystemChosen => string.Equals(Environment.GetEnvironmentVariable(ChoiceVariable), "system", StringComparison.OrdinalIgnoreCase);

    /// <summary>What this process runs on, in one line (for <c>seg info</c> and logs).</summary>
    public static string Describe() =>
        Active ? $"jemalloc ({JemallocSettings() ?? (Environment.GetEnvironmentVariable("MALLOC_CONF") ?? "its defaults") + ", as asked: jemalloc did not answer mallctl"})"
        : SystemChosen ? $"glibc's defaults ({ChoiceVariable}=system)"
        : _glibcTuned ? "glibc, tuned in-process (no mmap for large blocks, no trimming, one arena); jemalloc is faster: " + InstallHint
        : "glibc's defaults";

    /// <summary>
    /// The settings the running jemalloc reports through <c>mallctl</c> (<c>opt.dirty_decay_ms</c>, <c>opt.muzzy_decay_ms</c>,
    /// <c>opt.background_thread</c>) in <see cref="Config"/>'s form; null where jemalloc is not mapped or does not answer. A setting
    /// jemalloc rejected (it prints <c>&lt;jemalloc&gt;: Invalid conf pair</c> and goes on) shows here as its default.
    /// </summary>
    public static unsafe string? JemallocSettings()
    {
        if (MappedLibrary() is not { } library || !NativeLibrary.TryLoad(library, out var handle))
            return null;
        if (!NativeLibrary.TryGetExport(handle, "mallctl", out var export))
            return null;
        var mallctl = (delegate* unmanaged<byte*, void*, nuint*, void*, nuint, int>)export;
        long Read(string name, int size)
        {
            var bytes = System.Text.Encoding.ASCII.GetBytes(name + "\0");
            long value = 0;
            nuint length = (nuint)size;
            fixed (byte* key = bytes)
                return mallctl(key, &value, &length, null, 0) == 0 ? (size == 1 ? (byte)value : value) : long.MinValue;
        }
        long dirty = Read("opt.dirty_decay_ms", sizeof(long)), muzzy = Read("opt.muzzy_decay_ms", sizeof(long)), background = Read("opt.background_thread", 1);
        if (dirty == long.MinValue || muzzy == long.MinValue || background == long.MinValue)
            return null;
        return $"dirty_decay_ms:{dirty},muzzy_decay_ms:{muzzy},background_thread:{(background != 0 ? "true" : "false")}";
    }

    /// <summary>What to install for jemalloc, per distribution.</summary>
    public const string InstallHint = "apt-get install libjemalloc2 (Debian, Ubuntu) or dnf install jemalloc (Amazon Linux)";

    /// <summary>The variables a child process needs to run on jemalloc, or an empty set where it is missing or not wanted.</summary>
    public static IReadOnlyDictionary<string, string> ChildEnvironment() =>
        !OperatingSystem.IsLinux() || SystemChosen || Library() is not { } library
            ? new Dictionary<string, string>()
            : new Dictionary<string, string>
            {
                ["LD_PRELOAD"] = Preload(library),
                ["MALLOC_CONF"] = Environment.GetEnvironmentVariable("MALLOC_CONF") is { Length: > 0 } conf ? conf : Config,
            };

    static string Preload(string library) =>
        Environment.GetEnvironmentVariable("LD_PRELOAD") is { Length: > 0 } existing && !existing.Contains("libjemalloc", StringComparison.Ordinal)
            ? $"{library} {existing}"
            : library;

    /// <summary>
    /// For a program's <c>Main</c>: where jemalloc is installed and this process does not run on it yet, runs the same
    /// command again with it preloaded (stdin, stdout and stderr shared; SIGTERM, SIGINT and SIGQUIT passed on) and returns
    /// its exit code. Otherwise returns null and the program goes on in this process, with glibc tuned where jemalloc is
    /// missing (and, with <paramref name="announce"/>, one line on stderr saying what to install).
    /// </summary>
    public static int? Reexecute(string[] args, bool announce = true)
    {
        if (!OperatingSystem.IsLinux() || SystemChosen || Active)
            return null;
        var environment = ChildEnvironment();
        if (environment.Count == 0 || Environment.GetEnvironmentVariable(Marker) is not null)
        {
            TuneGlibc();
            if (announce && Environment.GetEnvironmentVariable(Marker) is null)
                Console.Error.WriteLine($"note: jemalloc is not installed, so glibc's allocator is tuned instead; for the fastest setting: {InstallHint}");
            return null;
        }
        var start = new ProcessStartInfo(Environment.ProcessPath!) { UseShellExecute = false };
        if (Path.GetFileNameWithoutExtension(Environment.ProcessPath) == "dotnet")
            start.ArgumentList.Add(Environment.GetCommandLineArgs()[0]);
        foreach (string a in args)
            start.ArgumentList.Add(a);
        foreach (var (name, value) in environment)
            start.Environment[name] = value;
        start.Environment[Marker] = "1";
        using var child = Process.Start(start)!;
        var forwarded = new[] { PosixSignal.SIGTERM, PosixSignal.SIGINT, PosixSignal.SIGQUIT }
            .Select(signal => PosixSignalRegistration.Create(signal, context =>
            {
                context.Cancel = true;
                if (context.Signal != PosixSignal.SIGINT) // a terminal's Ctrl+C reaches the whole process group already
                    _ = Kill(child.Id, context.Signal == PosixSignal.SIGTERM ? 15 : 3);
            }))
            .ToList();
        child.WaitForExit();
        foreach (var registration in forwarded)
            registration.Dispose();
        return child.ExitCode;
    }

    static bool _glibcTuned;

    /// <summary>
    /// glibc's allocator set as its measured best in-process (what <c>GLIBC_TUNABLES</c> would do at start): large blocks from
    /// the heap instead of fresh mappings, no trimming, one arena so that every thread's large blocks come from it.
    /// </summary>
    public static void TuneGlibc()
    {
        if (!OperatingSystem.IsLinux() || SystemChosen)
            return;
        try
        {
            const int TrimThreshold = -1, MmapMax = -4, ArenaMax = -8;
            _glibcTuned = Mallopt(MmapMax, 0) == 1 & Mallopt(TrimThreshold, int.MaxValue) == 1 & Mallopt(ArenaMax, 1) == 1;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            // not glibc
        }
    }

    [DllImport("libc", EntryPoint = "mallopt")]
    static extern int Mallopt(int parameter, int value);

    [DllImport("libc", EntryPoint = "kill")]
    static extern int Kill(int pid, int signal);
}
