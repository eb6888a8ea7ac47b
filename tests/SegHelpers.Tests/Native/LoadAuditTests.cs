using System.IO.Compression;
using SegHelpers.Native;
using SegHelpers.Tests.Cli;

namespace SegHelpers.Tests.Native;

/// <summary>Which Linux loads the build, read from the binaries: the original TorchSharp library, the patched one, the running process.</summary>
public class LoadAuditTests
{
    static LinuxTarget Target(string name) => LinuxTarget.All.Single(t => t.Name.StartsWith(name, StringComparison.Ordinal));

    /// <summary>libLibTorchSharp.so exactly as the TorchSharp 0.107.0 package ships it, from the package file in the NuGet cache.</summary>
    static byte[] Original()
    {
        string nupkg = Path.Combine(TorchNative.NuGetPackagesFolder(), "torchsharp", "0.107.0", "torchsharp.0.107.0.nupkg");
        Assert.True(File.Exists(nupkg), $"{nupkg} is where the restore that built these tests put TorchSharp");
        using var zip = ZipFile.OpenRead(nupkg);
        using var stream = zip.GetEntry("runtimes/linux-x64/native/libLibTorchSharp.so")!.Open();
        using var bytes = new MemoryStream();
        stream.CopyTo(bytes);
        return bytes.ToArray();
    }

    static TargetVerdict Verdict(byte[] elf, LinuxTarget target) =>
        LoadAudit.Check([new LibraryNeeds("libLibTorchSharp.so", ElfWeakReference.Needs(elf))]).Single(v => v.Target == target);

    [Fact]
    public void As_shipped_TorchSharp_needs_GCC_13s_anchor_and_GCC_12s_condition_variable()
    {
        var needs = ElfWeakReference.Needs(Original());

        var anchor = needs.Single(n => n.Version == ElfWeakReference.IostreamAnchorVersion);
        Assert.Equal(["_ZSt21ios_base_library_initv"], anchor.Symbols);
        var wait = needs.Single(n => n.Version == ElfWeakReference.ConditionVariableWaitVersion);
        Assert.Equal([ElfWeakReference.ConditionVariableWaitSymbol], wait.Symbols);
        Assert.False(anchor.Weak || wait.Weak);
        Assert.Contains(needs, n => n.Version == "GLIBC_2.34" && n.File == "libc.so.6");
        Assert.Contains(needs, n => n.Version == "CXXABI_1.3.13");
        Assert.Contains(needs, n => n.Version == ElfWeakReference.ConditionVariableWaitOldVersion && n.File == "libstdc++.so.6");
        // No target of the project loads it, but those with GCC 14's runtime.
        Assert.Equal(["Amazon Linux 2023, GCC 14 runtime", "Ubuntu 24.04"], LinuxTarget.All.Where(t => Verdict(Original(), t).Loads).Select(t => t.Name));
        Assert.Equal(["GLIBCXX_3.4.30", "GLIBCXX_3.4.32"], Verdict(Original(), Target("Amazon Linux 2023, GCC 11")).Unmet.Select(u => u.Need.Version).Order());
        Assert.Equal(["GLIBCXX_3.4.32"], Verdict(Original(), Target("Debian 12")).Unmet.Select(u => u.Need.Version));
    }

    [Fact]
    public void Patched_it_loads_on_every_target_and_only_the_two_references_changed()
    {
        var original = Original();
        var patched = (byte[])original.Clone();

        Assert.Equal(ElfPatchResult.Patched, ElfWeakReference.Weaken(patched, ElfWeakReference.IostreamAnchorSymbol, ElfWeakReference.IostreamAnchorVersion));
        Assert.Equal(ElfPatchResult.Patched, ElfWeakReference.Retarget(patched, ElfWeakReference.ConditionVariableWaitSymbol,
            ElfWeakReference.ConditionVariableWaitVersion, ElfWeakReference.ConditionVariableWaitOldVersion));
        Assert.Equal(ElfPatchResult.AlreadyWeak, ElfWeakReference.Retarget(patched, ElfWeakReference.ConditionVariableWaitSymbol,
            ElfWeakReference.ConditionVariableWaitVersion, ElfWeakReference.ConditionVariableWaitOldVersion));

        var needs = ElfWeakReference.Needs(patched);
        Assert.Contains(ElfWeakReference.ConditionVariableWaitSymbol, needs.Single(n => n.Version == ElfWeakReference.ConditionVariableWaitOldVersion).Symbols);
        var emptied = needs.Single(n => n.Version == ElfWeakReference.ConditionVariableWaitVersion);
        Assert.True(emptied.Weak && emptied.Symbols.Count == 0);
        Assert.All(LinuxTarget.All, t => Assert.True(Verdict(patched, t).Loads, $"{t.Name}: {string.Join(", ", Verdict(patched, t).Unmet.Select(u => u.Need.Version))}"));
        // the binding (st_info) of one symbol, two version flags and one .gnu.version entry
        Assert.Equal(4, original.Zip(patched).Count(p => p.First != p.Second));
    }

    [Fact]
    public void Targets_need_what_their_runtimes_define()
    {
        VersionNeed Need(string file, string version, bool weak = false) => new(file, version, weak);
        var al2023 = Target("Amazon Linux 2023, GCC 11");

        Assert.False(al2023.Meets(Need("libstdc++.so.6", "GLIBCXX_3.4.30")));
        Assert.True(al2023.Meets(Need("libstdc++.so.6", "GLIBCXX_3.4.29")));
        Assert.True(al2023.Meets(Need("libstdc++.so.6", "GLIBCXX_3.4.30", weak: true)));
        Assert.False(al2023.Meets(Need("libc.so.6", "GLIBC_2.35")));
        Assert.True(Target("Ubuntu 22.04").Meets(Need("libc.so.6", "GLIBC_2.35")));
        Assert.False(Target("Ubuntu 22.04").Meets(Need("libstdc++.so.6", "CXXABI_1.3.14")));
        Assert.True(Target("Ubuntu 24.04").Meets(Need("libstdc++.so.6", "CXXABI_1.3.15")));
        Assert.False(Target("Debian 12").Meets(Need("libgcc_s.so.1", "GCC_13.0")));
        Assert.True(al2023.Meets(Need("libgomp-98b21ff3.so.1", "GOMP_9.9"))); // shipped with libtorch, not the system's
        Assert.True(LinuxTarget.NotNewer("2.3.4", "2.34") && !LinuxTarget.NotNewer("3.4.30", "3.4.29") && LinuxTarget.NotNewer("3.4", "3.4.0"));
    }

    [Fact]
    public void The_Debian_12_row_is_what_this_Debian_12_defines()
    {
        string release = File.Exists("/etc/os-release") ? File.ReadAllText("/etc/os-release") : "";
        Assert.True(release.Contains("ID=debian") && release.Contains("VERSION_ID=\"12\""), "CI and these sessions run on Debian 12");
        var debian = Target("Debian 12");
        string libstdcxx = ElfWeakReference.LoadedLibStdCxx()!;
        string libc = "/lib/x86_64-linux-gnu/libc.so.6";

        Assert.True(ElfWeakReference.Provides(libstdcxx, $"GLIBCXX_{debian.Glibcxx}") && !ElfWeakReference.Provides(libstdcxx, "GLIBCXX_3.4.31"));
        Assert.True(ElfWeakReference.Provides(libstdcxx, $"CXXABI_{debian.Cxxabi}") && !ElfWeakReference.Provides(libstdcxx, "CXXABI_1.3.14"));
        Assert.True(ElfWeakReference.Provides(libc, $"GLIBC_{debian.Glibc}") && !ElfWeakReference.Provides(libc, "GLIBC_2.37"));
    }

    [Fact]
    public void Seg_info_reads_every_loaded_library_and_names_the_releases_that_load_them()
    {
        var (exit, stdout, stderr) = Seg.Run("info");

        Assert.True(exit == 0, stderr);
        var lines = stdout.Split('\n').Select(l => l.TrimEnd()).ToList();
        foreach (string library in new[] { "libLibTorchSharp.so", "libtorch_cpu.so", "libc10.so", "libcoreclr.so" })
            Assert.Contains(lines, l => l.StartsWith($"  {library}: ", StringComparison.Ordinal));
        // libtorch itself asks little: glibc 2.29 and GCC 9's libstdc++
        Assert.Contains("  libtorch_cpu.so: GLIBC_2.29, GLIBCXX_3.4.26, ", stdout);
    }

    [SystemNeedsPatchFact]
    public void Seg_info_shows_the_patched_references_as_weak_and_every_target_system_loading()
    {
        var (exit, stdout, stderr) = Seg.Run("info");

        Assert.True(exit == 0, stderr);
        var lines = stdout.Split('\n').Select(l => l.TrimEnd()).ToList();
        string torchSharp = lines.Single(l => l.StartsWith("  libLibTorchSharp.so: ", StringComparison.Ordinal));
        Assert.Contains("GLIBCXX_3.4.29", torchSharp);
        Assert.DoesNotContain("GLIBCXX_3.4.30,", torchSharp.Split('[')[0]);
        Assert.EndsWith("[GLIBCXX_3.4.30, GLIBCXX_3.4.32]", torchSharp);
        Assert.All(LinuxTarget.All, t => Assert.Contains($"  {t.Name}: loads", lines));
    }
}

/// <summary>A fact about the libstdc++ patch, run only where this system's libstdc++ needs it, skipped with the reason elsewhere.</summary>
sealed class SystemNeedsPatchFactAttribute : FactAttribute
{
    public SystemNeedsPatchFactAttribute()
    {
        if (!ElfWeakReference.SystemNeedsPatch())
            Skip = $"this system's libstdc++ has {ElfWeakReference.IostreamAnchorVersion}, so TorchSharp loads as shipped and nothing is patched to show; Debian 12, Ubuntu 22.04 and older Amazon Linux 2023 need the patch";
    }
}
