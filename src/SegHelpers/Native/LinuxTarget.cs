namespace SegHelpers.Native;

/// <summary>
/// A Linux the project is meant to run on, described by the newest symbol versions its C and C++ runtimes define: what a
/// native library may need from the system there. Libraries that ship with the program (libtorch, its libgomp, SkiaSharp) are
/// not the system's and always resolve.
/// </summary>
/// <param name="Name">The distribution and release.</param>
/// <param name="Glibc">glibc's version: the newest <c>GLIBC_x.y</c> it defines.</param>
/// <param name="Glibcxx">The newest <c>GLIBCXX_3.4.N</c> of its libstdc++.</param>
/// <param name="Cxxabi">The newest <c>CXXABI_1.3.N</c> of its libstdc++.</param>
/// <param name="Gcc">The GCC major version of its libstdc++ and libgcc_s.</param>
public sealed record LinuxTarget(string Name, string Glibc, string Glibcxx, string Cxxabi, int Gcc)
{
    /// <summary>
    /// Where the project runs: SageMaker's Amazon Linux 2023 (GCC 11's runtime until its 2025 update to GCC 14's), Ubuntu 22.04
    /// and 24.04, and Debian 12 (this machine and CI).
    /// </summary>
    public static readonly IReadOnlyList<LinuxTarget> All =
    [
        new("Amazon Linux 2023, GCC 11 runtime (before the 2025 update)", "2.34", "3.4.29", "1.3.13", 11),
        new("Amazon Linux 2023, GCC 14 runtime", "2.34", "3.4.33", "1.3.15", 14),
        new("Ubuntu 22.04", "2.35", "3.4.30", "1.3.13", 12),
        new("Ubuntu 24.04", "2.39", "3.4.33", "1.3.15", 14),
        new("Debian 12", "2.36", "3.4.30", "1.3.13", 12),
    ];

    static readonly HashSet<string> GlibcFiles = ["libc.so.6", "libm.so.6", "libpthread.so.0", "libdl.so.2", "librt.so.1", "ld-linux-x86-64.so.2"];

    /// <summary>
    /// Whether this system satisfies <paramref name="need"/>. A weak need never stops loading; a need from a library that is not
    /// the system's C or C++ runtime (one shipped with the program) is taken as met.
    /// </summary>
    public bool Meets(VersionNeed need)
    {
        if (need.Weak)
            return true;
        string version = need.Version;
        if (GlibcFiles.Contains(need.File))
            return !version.StartsWith("GLIBC_2.", StringComparison.Ordinal) || NotNewer(version["GLIBC_".Length..], Glibc);
        if (need.File == "libstdc++.so.6")
        {
            if (version.StartsWith("GLIBCXX_", StringComparison.Ordinal))
                return NotNewer(version["GLIBCXX_".Length..], Glibcxx);
            if (version.StartsWith("CXXABI_1.3", StringComparison.Ordinal))
                return NotNewer(version["CXXABI_".Length..], Cxxabi);
            return true;
        }
        if (need.File == "libgcc_s.so.1" && version.StartsWith("GCC_", StringComparison.Ordinal))
            return int.Parse(version["GCC_".Length..].Split('.')[0], System.Globalization.CultureInfo.InvariantCulture) <= Gcc;
        return true;
    }

    /// <summary>True when the dotted version <paramref name="version"/> is at most <paramref name="newest"/>, number by number.</summary>
    public static bool NotNewer(string version, string newest)
    {
        var a = version.Split('.').Select(p => int.TryParse(p, out int n) ? n : 0).ToArray();
        var b = newest.Split('.').Select(p => int.TryParse(p, out int n) ? n : 0).ToArray();
        for (int i = 0; i < Math.Max(a.Length, b.Length); i++)
        {
            int x = i < a.Length ? a[i] : 0, y = i < b.Length ? b[i] : 0;
            if (x != y)
                return x < y;
        }
        return true;
    }
}
