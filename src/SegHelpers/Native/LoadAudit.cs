namespace SegHelpers.Native;

/// <summary>One native library and the symbol versions it needs from other libraries.</summary>
/// <param name="Path">The file.</param>
/// <param name="Needs">Its <c>.gnu.version_r</c> entries.</param>
public sealed record LibraryNeeds(string Path, IReadOnlyList<VersionNeed> Needs)
{
    /// <summary>The newest strong need per version family (<c>GLIBC</c>, <c>GLIBCXX</c>, <c>CXXABI</c>, <c>GCC</c>…), in the file's order.</summary>
    public IEnumerable<VersionNeed> Newest() => Needs.Where(n => !n.Weak)
        .GroupBy(n => n.Version.Split('_')[0])
        .Select(g => g.Aggregate((a, b) => LinuxTarget.NotNewer(Number(a.Version), Number(b.Version)) ? b : a));

    static string Number(string version) => version[(version.IndexOf('_') + 1)..];
}

/// <summary>What a Linux target would refuse of the native libraries: the needs it cannot meet, per library.</summary>
/// <param name="Target">The system.</param>
/// <param name="Unmet">Each library's needs the target lacks; empty when everything loads.</param>
public sealed record TargetVerdict(LinuxTarget Target, IReadOnlyList<(string Library, VersionNeed Need)> Unmet)
{
    /// <summary>True when every library loads there.</summary>
    public bool Loads => Unmet.Count == 0;
}

/// <summary>
/// Reads the symbol versions every native library of this process needs and checks them against <see cref="LinuxTarget.All"/>:
/// which Linux can load this build, stated from the binaries rather than assumed.
/// </summary>
public static class LoadAudit
{
    static readonly string[] SystemFolders = ["/lib/", "/lib64/", "/usr/lib/", "/usr/lib64/"];

    /// <summary>The native libraries this process has mapped that are not the system's own (read from <c>/proc/self/maps</c>).</summary>
    public static IReadOnlyList<LibraryNeeds> Loaded()
    {
        const string maps = "/proc/self/maps";
        if (!File.Exists(maps))
            return [];
        var paths = File.ReadLines(maps)
            .Select(line => line.IndexOf('/') is var slash and >= 0 ? line[slash..].Trim() : "")
            .Where(p => p.Contains(".so", StringComparison.Ordinal) && !SystemFolders.Any(f => p.StartsWith(f, StringComparison.Ordinal)) && File.Exists(p))
            .Distinct()
            .Order(StringComparer.Ordinal);
        return [.. paths.Select(Read)];
    }

    /// <summary>The needs of the ELF file at <paramref name="path"/>.</summary>
    public static LibraryNeeds Read(string path) => new(path, ElfWeakReference.Needs(File.ReadAllBytes(path)));

    /// <summary>For each target, the needs of <paramref name="libraries"/> it cannot meet.</summary>
    public static IReadOnlyList<TargetVerdict> Check(IReadOnlyList<LibraryNeeds> libraries) =>
        [.. LinuxTarget.All.Select(t => new TargetVerdict(t, [.. libraries.SelectMany(l => l.Needs.Where(n => !t.Meets(n)).Select(n => (Path.GetFileName(l.Path), n)))]))];
}
