using System.Diagnostics;

namespace SegHelpers.Tests.Cli;

/// <summary>Runs the real <c>seg</c> command line (the copy built beside the tests) in a child process.</summary>
static class Seg
{
    public static (int Exit, string Out, string Err) Run(params string[] args) => Run(new Dictionary<string, string>(), args);

    /// <summary>Runs seg with extra environment variables.</summary>
    public static (int Exit, string Out, string Err) Run(IReadOnlyDictionary<string, string> environment, params string[] args) =>
        RunBuild(Path.Combine(AppContext.BaseDirectory, "seg.dll"), environment, args);

    /// <summary>Runs another build of seg (its <c>seg.dll</c>) with extra environment variables.</summary>
    public static (int Exit, string Out, string Err) RunBuild(string segDll, IReadOnlyDictionary<string, string> environment, params string[] args)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var (name, value) in environment)
            start.Environment[name] = value;
        start.ArgumentList.Add(segDll);
        foreach (string a in args)
            start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(5)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"seg {string.Join(' ', args)} did not finish");
        }
        return (process.ExitCode, stdout.Result, stderr.Result);
    }
}
