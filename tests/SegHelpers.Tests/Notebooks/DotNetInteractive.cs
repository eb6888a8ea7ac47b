using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace SegHelpers.Tests.Notebooks;

/// <summary>
/// The real .NET Interactive kernel (the last release, deprecated in 2026), driven over its <c>stdio</c> protocol:
/// one <c>SubmitCode</c> command per code cell, the way a Jupyter front end submits cells. Installed once with
/// <c>dotnet tool install</c> into a per-user folder.
/// </summary>
sealed class DotNetInteractive : IDisposable
{
    /// <summary>The pinned kernel version (environment/ installs the same one).</summary>
    public const string Version = "1.0.712001";

    readonly Process _process;
    int _token;

    DotNetInteractive(Process process) => _process = process;

    public static string Install()
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

    /// <summary>Starts a C# kernel whose working directory is <paramref name="directory"/>, as Jupyter starts it in the notebook's folder.</summary>
    /// <paramref name="errors"/> collects what the kernel process writes to standard error (libtorch's native warnings land there).
    public static DotNetInteractive Start(string directory, System.Text.StringBuilder? errors = null)
    {
        var start = new ProcessStartInfo(Install(), ["stdio", "--default-kernel", "csharp"])
        {
            WorkingDirectory = directory,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        var process = Process.Start(start)!;
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null && errors is not null)
                lock (errors)
                    errors.AppendLine(e.Data);
        };
        process.BeginErrorReadLine();
        return new DotNetInteractive(process);
    }

    /// <summary>Submits one cell; returns whether it succeeded, the MIME types it produced, and the failure message.</summary>
    public (bool Succeeded, List<string> MimeTypes, string? Error) Submit(string code)
    {
        string token = $"seg-{++_token}";
        var command = new JsonObject
        {
            ["token"] = token,
            ["commandType"] = "SubmitCode",
            ["command"] = new JsonObject { ["code"] = code, ["targetKernelName"] = "csharp" },
        };
        _process.StandardInput.WriteLine(command.ToJsonString());
        _process.StandardInput.Flush();
        var mimeTypes = new List<string>();
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < TimeSpan.FromMinutes(5))
        {
            string? line = _process.StandardOutput.ReadLine() ?? throw new InvalidOperationException("the kernel exited");
            JsonNode? envelope;
            try
            {
                envelope = JsonNode.Parse(line);
            }
            catch (JsonException)
            {
                continue;
            }
            string? type = envelope?["eventType"]?.GetValue<string>();
            bool mine = envelope?["command"]?["token"]?.GetValue<string>() == token;
            if (type is "ReturnValueProduced" or "DisplayedValueProduced" or "DisplayedValueUpdated" && envelope!["event"]?["formattedValues"] is JsonArray values)
                mimeTypes.AddRange(values.Select(v => v!["mimeType"]!.GetValue<string>() + (v["value"]!.GetValue<string>().Contains("Plotly.newPlot", StringComparison.Ordinal) ? ":plotly" : "")));
            if (mine && type == "CommandSucceeded")
                return (true, mimeTypes, null);
            if (mine && type == "CommandFailed")
                return (false, mimeTypes, envelope!["event"]?["message"]?.GetValue<string>());
        }
        throw new TimeoutException("a cell ran for more than 5 minutes in the kernel");
    }

    public void Dispose()
    {
        try
        {
            _process.StandardInput.Close();
            if (!_process.WaitForExit(5000))
                _process.Kill(entireProcessTree: true);
        }
        finally
        {
            _process.Dispose();
        }
    }
}
