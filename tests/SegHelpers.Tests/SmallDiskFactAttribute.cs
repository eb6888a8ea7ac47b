using System.Diagnostics;

namespace SegHelpers.Tests;

/// <summary>
/// A fact that needs a small file system to fill (a 256 KiB tmpfs, mounted by the test): it runs where <c>mount</c> works
/// (root with the capability, as in CI here) and is reported as skipped, with the reason, elsewhere.
/// </summary>
sealed class SmallDiskFactAttribute : FactAttribute
{
    static readonly Lazy<string?> Reason = new(Probe);

    public SmallDiskFactAttribute()
    {
        if (Reason.Value is { } reason)
            Skip = $"no small file system can be mounted here ({reason}); this test fills one";
    }

    static string? Probe()
    {
        using var dir = new TempDir();
        try
        {
            using var mounting = Process.Start(new ProcessStartInfo("mount", ["-t", "tmpfs", "-o", "size=64k", "tmpfs", dir.Path]) { RedirectStandardError = true })!;
            string error = mounting.StandardError.ReadToEnd();
            mounting.WaitForExit();
            if (mounting.ExitCode != 0)
                return $"mount exited {mounting.ExitCode}: {error.Trim()}";
            Process.Start("umount", [dir.Path])!.WaitForExit();
            return null;
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            return $"no mount command: {e.Message}";
        }
    }
}

/// <summary>A fact about a machine without a GPU, reported as skipped where an NVIDIA device is present.</summary>
sealed class NoGpuFactAttribute : FactAttribute
{
    public NoGpuFactAttribute()
    {
        if (File.Exists("/dev/nvidiactl"))
            Skip = "an NVIDIA GPU is present (/dev/nvidiactl), so --device cuda may be valid here; this test is about a machine without one";
    }
}
