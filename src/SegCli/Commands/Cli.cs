using System.CommandLine;
using SegHelpers;

namespace SegCli.Commands;

/// <summary>Exit codes and error reporting shared by every command.</summary>
static class Cli
{
    /// <summary>The <c>seg</c> command line.</summary>
    public static RootCommand Root() => new("FCN road segmentation on KITTI Road with TorchSharp.")
    {
        SynthCommand.Create(),
        FetchCommand.Create(),
        CheckCommand.Create(),
        MainCommand.Create(),
        InfoCommand.Create(),
        ModelCommand.Create(),
        WeightsCommand.Create(),
        TrainCommand.Create(),
        EvalCommand.Create(),
        PredictCommand.Create(),
        BevCommand.Create(),
        NotebookCommand.Create(),
        SageMakerCommand.Create(),
        BenchCommand.Create(),
        ServeCommand.Create(),
    };

    /// <summary>Exit code for input the program cannot use.</summary>
    public const int BadInput = 2;

    /// <summary>Exit code for a run that failed for another reason than its input (training diverged, disk full, a libtorch error).</summary>
    public const int Failed = 1;

    /// <summary>
    /// Runs a command body. Every failure becomes one line on stderr and a documented exit code, never a stack trace:
    /// 2 for input the program cannot use (including an output folder it may not write), 1 for anything else.
    /// With <c>SEG_DEBUG=1</c> the full exception follows the line.
    /// </summary>
    public static int Run(Func<int> body) => Run(body, Console.Error);

    internal static int Run(Func<int> body, TextWriter error)
    {
        try
        {
            return body();
        }
        catch (Exception caught)
        {
            var e = caught is AggregateException { InnerExceptions.Count: > 0 } many ? many.InnerExceptions[0] : caught;
            var (code, message) = e switch
            {
                BadInputException or ArgumentException or SegHelpers.Native.LibtorchMissingException => (BadInput, e.Message),
                UnauthorizedAccessException or DirectoryNotFoundException => (BadInput, $"{e.Message} (choose a folder this user can write)"),
                SegHelpers.Training.TrainingFailedException => (Failed, e.Message),
                IOException => (Failed, $"{e.Message}{(AtomicFile.IsDiskFull(e) ? " (the disk is full: free space or write elsewhere; finished files were written atomically and are intact)" : "")}"),
                System.Runtime.InteropServices.ExternalException => (Failed, $"libtorch: {LibtorchError(e.Message)}"),
                _ => (Failed, $"{e.GetType().Name}: {FirstLine(e.Message)}"),
            };
            error.WriteLine($"error: {message}");
            if (Environment.GetEnvironmentVariable("SEG_DEBUG") == "1")
                error.WriteLine(caught);
            else if (code == Failed && e is not SegHelpers.Training.TrainingFailedException)
                error.WriteLine("(set SEG_DEBUG=1 for the details)");
            return code;
        }
    }

    static string FirstLine(string text) => text.Split('\n', 2)[0].Trim();

    /// <summary>
    /// libtorch's message with the place in libtorch that raised it (its message lines, then
    /// <c>Exception raised from FUNCTION at FILE:LINE</c>, then a native stack), on one line:
    /// <c>MESSAGE (raised in FUNCTION at FILE:LINE)</c>. A bare check such as <c>TORCH_CHECK(false)</c> says nothing else.
    /// </summary>
    internal static string LibtorchError(string text)
    {
        var lines = text.Split('\n');
        int at = Array.FindIndex(lines, l => l.StartsWith("Exception raised from ", StringComparison.Ordinal));
        string message = string.Join(' ', lines.Take(at < 0 ? 1 : at).Select(l => l.Trim()).Where(l => l.Length > 0));
        if (at < 0)
            return message;
        var origin = System.Text.RegularExpressions.Regex.Match(lines[at], @"^Exception raised from (.+) at (\S+?)(?: \(most recent call first\):)?$");
        if (!origin.Success)
            return message;
        string file = origin.Groups[2].Value;
        int tree = file.IndexOf("/pytorch/", StringComparison.Ordinal);
        return $"{message} (raised in {origin.Groups[1].Value} at {(tree >= 0 ? file[(tree + "/pytorch/".Length)..] : file)})";
    }

    /// <summary>
    /// Reads <c>-p Name=Value</c> options for <paramref name="notebooks"/>; a name none of their parameters cells declares
    /// is an error (a typo would otherwise leave a default in place silently).
    /// </summary>
    public static Dictionary<string, string> NotebookParameters(IEnumerable<string> options, IReadOnlyList<string> notebooks, IEnumerable<KeyValuePair<string, string>>? preset = null)
    {
        var values = new Dictionary<string, string>(preset ?? [], StringComparer.Ordinal);
        foreach (var p in options)
        {
            int eq = p.IndexOf('=');
            if (eq <= 0)
                throw new ArgumentException($"-p '{p}' is not Name=Value");
            values[p[..eq]] = p[(eq + 1)..];
        }
        var declared = notebooks.SelectMany(n => SegNotebooks.NotebookParameters.Declarations(SegNotebooks.NotebookFile.Load(n)).Keys).ToHashSet();
        var unknown = values.Keys.Where(k => !declared.Contains(k)).ToList();
        if (unknown.Count > 0)
            throw new ArgumentException($"no notebook's parameters cell declares {string.Join(", ", unknown)}; check the spelling (names are case-sensitive)");
        return values;
    }

    /// <summary>The words an option accepts, as its help starts: <c>one of: a, b, c</c>.</summary>
    public static string Keywords(IEnumerable<string> words) => $"One of: {string.Join(", ", words)}";

    /// <summary>The <c>--device</c> every command that runs the model takes, resolved by <see cref="SegHelpers.Native.Devices.Resolve"/>.</summary>
    public static Option<string> DeviceOption(string defaultValue = "auto") => new("--device")
    {
        DefaultValueFactory = _ => defaultValue,
        Description = $"{Keywords(SegHelpers.Native.Devices.Names)}: auto takes CUDA where it is available, the CPU otherwise.",
    };

    /// <summary>The <c>--backend</c> of every command that runs the model; unset, a <c>.onnx</c> model runs on ONNX Runtime and any other on libtorch unless <paramref name="defaults"/> says otherwise.</summary>
    public static Option<string?> BackendOption(string defaults = "onnxruntime for a .onnx model, libtorch otherwise") => new("--backend")
    {
        Description = $"{Keywords(SegHelpers.Evaluation.PredictionOptions.Backends)}: libtorch runs a run folder or checkpoint, onnxruntime a .onnx file " +
                      $"from `seg weights export --format onnx` or a checkpoint exported at load (fp32; CPU, or CUDA with the GPU runtime). Default: {defaults}.",
    };

    /// <summary>Parses "HxW" (e.g. 375x1242).</summary>
    public static (int Height, int Width) ParseSize(string text)
    {
        var parts = text.ToLowerInvariant().Split('x');
        if (parts.Length == 2 && int.TryParse(parts[0], out int h) && int.TryParse(parts[1], out int w) && h > 0 && w > 0)
            return (h, w);
        throw new ArgumentException($"size '{text}' is not HEIGHTxWIDTH, e.g. 375x1242");
    }
}
