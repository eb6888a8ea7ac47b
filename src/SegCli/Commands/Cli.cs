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
        CheckCommand.Create(),
        MainCommand.Create(),
        InfoCommand.Create(),
        ModelCommand.Create(),
        WeightsCommand.Create(),
        TrainCommand.Create(),
        EvalCommand.Create(),
        PredictCommand.Create(),
        NotebookCommand.Create(),
        SageMakerCommand.Create(),
        BenchCommand.Create(),
    };

    /// <summary>Exit code for input the program cannot use.</summary>
    public const int BadInput = 2;

    /// <summary>Runs a command body; bad input becomes one clear line on stderr and exit code 2, a failed training run exit code 1, not a stack trace.</summary>
    public static int Run(Func<int> body)
    {
        try
        {
            return body();
        }
        catch (BadInputException e)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            return BadInput;
        }
        catch (ArgumentException e)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            return BadInput;
        }
        catch (SegHelpers.Training.TrainingFailedException e)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            return 1;
        }
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
        var declared = notebooks.SelectMany(n => SegNotebooks.NotebookParameters.Declarations(SegNotebooks.Notebook.Load(n)).Keys).ToHashSet();
        var unknown = values.Keys.Where(k => !declared.Contains(k)).ToList();
        if (unknown.Count > 0)
            throw new ArgumentException($"no notebook's parameters cell declares {string.Join(", ", unknown)}; check the spelling (names are case-sensitive)");
        return values;
    }

    /// <summary>Parses "HxW" (e.g. 375x1242).</summary>
    public static (int Height, int Width) ParseSize(string text)
    {
        var parts = text.ToLowerInvariant().Split('x');
        if (parts.Length == 2 && int.TryParse(parts[0], out int h) && int.TryParse(parts[1], out int w) && h > 0 && w > 0)
            return (h, w);
        throw new ArgumentException($"size '{text}' is not HEIGHTxWIDTH, e.g. 375x1242");
    }
}
