using System.Diagnostics;

namespace SegHelpers.Tests.Notebooks;

/// <summary>
/// The real .NET Interactive kernel tool (the last release, deprecated in 2026), installed once with <c>dotnet tool install</c>
/// into a per-user folder; <see cref="Jupyter"/> registers and runs it as Jupyter does.
/// </summary>
static class DotNetInteractive
{
    /// <summary>The pinned kernel version (environment/ installs the same one).</summary>
    public const string Version = "1.0.712001";

    static readonly object Gate = new();

    public static string Install()
    {
        lock (Gate)
            return InstallOnce();
    }

    static string InstallOnce()
    {
        string folder = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache", "seg", "dotnet-interactive", Version);
        string tool = Path.Combine(folder, "dotnet-interactive");
        if (File.Exists(tool))
            return tool;
        var install = Process.Start(new ProcessStartInfo("dotnet", ["tool", "install", "--tool-path", folder, "Microsoft.dotnet-interactive", "--version", Version])
            { RedirectStandardOutput = true, RedirectStandardError = true })!;
        string output = install.StandardOutput.ReadToEnd() + install.StandardError.ReadToEnd();
        install.WaitForExit();
        if (install.ExitCode != 0 || !File.Exists(tool))
            throw new InvalidOperationException($"could not install Microsoft.dotnet-interactive {Version} into {folder}: {output}");
        return tool;
    }
}
