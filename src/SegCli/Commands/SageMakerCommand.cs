using System.CommandLine;
using System.Text.Json;
using SegHelpers;
using SegHelpers.Training;

namespace SegCli.Commands;

/// <summary>
/// <c>seg sagemaker train</c>: <c>seg train</c> under the SageMaker Training Job contract. Paths follow
/// <c>/opt/ml</c> (or <c>SEG_SAGEMAKER_ROOT</c>, for local runs and tests):
/// <list type="bullet">
/// <item>data from the <c>training</c> channel (<c>SM_CHANNEL_TRAINING</c>, else <c>ROOT/input/data/training</c>);
/// encoder weights named by file from the <c>weights</c> channel;</item>
/// <item>hyperparameters from <c>ROOT/input/config/hyperparameters.json</c> (SageMaker passes every value as a string),
/// named like <c>seg train</c>'s options without the dashes (<c>epochs</c>, <c>size</c>, <c>lr</c>, <c>width-divisor</c> or
/// <c>width_divisor</c>…); keys starting <c>sagemaker_</c> are SageMaker's own and skipped;</item>
/// <item>the run lives in <c>ROOT/checkpoints</c>, which SageMaker syncs to S3, so a restarted spot job resumes it;</item>
/// <item>at the end the model (<c>best.safetensors</c>, <c>options.json</c>, <c>metrics.jsonl</c>) goes to <c>SM_MODEL_DIR</c>
/// (else <c>ROOT/model</c>); on failure the reason goes to <c>ROOT/output/failure</c>.</item>
/// </list>
/// Epoch lines (<c>road IoU 0.8123  MaxF 91.20</c>) are printed for a tuning job's metric regexes.
/// </summary>
static class SageMakerCommand
{
    public static Command Create()
    {
        var train = new Command("train", "Run seg train under the SageMaker Training Job contract (/opt/ml, or SEG_SAGEMAKER_ROOT).");
        train.SetAction(_ => Train());
        return new Command("sagemaker", "SageMaker Training Job entry point.") { train };
    }

    static int Train()
    {
        string root = Environment.GetEnvironmentVariable("SEG_SAGEMAKER_ROOT") is { Length: > 0 } r ? r : "/opt/ml";
        string failure = Path.Combine(root, "output", "failure");
        var errors = new StringWriter();
        var stderr = Console.Error;
        Console.SetError(new TeeWriter(stderr, errors));
        int exit;
        try
        {
            exit = Run(root);
        }
        catch (Exception e) when (e is BadInputException or ArgumentException or IOException or JsonException)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            exit = Cli.BadInput;
        }
        finally
        {
            Console.SetError(stderr);
        }
        if (exit is not (0 or 130))
            AtomicFile.WriteText(failure, errors.ToString().Trim() is { Length: > 0 } text ? text : $"seg train exited with code {exit}");
        return exit;
    }

    static int Run(string root)
    {
        string data = Environment.GetEnvironmentVariable("SM_CHANNEL_TRAINING") is { Length: > 0 } d ? d : Path.Combine(root, "input", "data", "training");
        string weights = Environment.GetEnvironmentVariable("SM_CHANNEL_WEIGHTS") is { Length: > 0 } w ? w : Path.Combine(root, "input", "data", "weights");
        string model = Environment.GetEnvironmentVariable("SM_MODEL_DIR") is { Length: > 0 } m ? m : Path.Combine(root, "model");
        var run = new RunFolder(Path.Combine(root, "checkpoints"));
        string[] args;
        if (run.HasRun && File.Exists(run.LastCheckpoint))
        {
            Console.WriteLine($"resuming the run in {run.Path} (a restarted job)");
            args = ["train", "--resume", run.Path];
        }
        else
        {
            foreach (var stale in new[] { run.OptionsFile, run.MetricsFile }.Where(File.Exists))
                File.Delete(stale); // a job stopped before its first checkpoint: start again
            args = ["train", "--data", data, "--out", run.Path, .. Options(Path.Combine(root, "input", "config", "hyperparameters.json"), weights)];
        }
        Console.WriteLine($"seg {string.Join(' ', args)}");
        int exit = Cli.Root().Parse(args).Invoke();
        if (exit != 0)
            return exit;
        Directory.CreateDirectory(model);
        foreach (var file in new[] { run.BestCheckpoint, run.OptionsFile, run.MetricsFile })
            AtomicFile.Write(Path.Combine(model, Path.GetFileName(file)), target => { using var source = File.OpenRead(file); source.CopyTo(target); });
        Console.WriteLine($"model written to {model}");
        return 0;
    }

    /// <summary>seg train options from SageMaker's hyperparameters (all strings).</summary>
    static List<string> Options(string file, string weightsChannel)
    {
        if (!File.Exists(file))
            return [];
        var options = new List<string>();
        var known = TrainCommand.Create().Options.Select(o => o.Name.TrimStart('-')).Where(n => n is not ("help" or "?" or "h" or "data" or "out" or "resume")).ToHashSet();
        using var json = JsonDocument.Parse(File.ReadAllText(file));
        foreach (var p in json.RootElement.EnumerateObject())
        {
            if (p.Name.StartsWith("sagemaker_", StringComparison.Ordinal))
                continue;
            string name = p.Name.Replace('_', '-');
            string value = p.Value.ValueKind == JsonValueKind.String ? p.Value.GetString()! : p.Value.GetRawText();
            switch (name)
            {
                case "data" or "out" or "resume" or "help":
                    throw new ArgumentException($"{file}: hyperparameter '{p.Name}' is set by the job itself (data channel, checkpoints); remove it");
                case "no-augment":
                    if (bool.TryParse(value, out bool off) && off)
                        options.Add("--no-augment");
                    break;
                case "encoder-weights":
                    // "imagenet" downloads torchvision's file (jobs with internet); a file name is looked up in the weights channel.
                    options.AddRange(["--encoder-weights", value.Equals(SegHelpers.Model.Weights.ImageNetVgg16.Keyword, StringComparison.OrdinalIgnoreCase) || Path.IsPathRooted(value)
                        ? value : Path.Combine(weightsChannel, value)]);
                    break;
                case var _ when !known.Contains(name):
                    throw new ArgumentException($"{file}: hyperparameter '{p.Name}' is not a seg train option; use one of: {string.Join(", ", known.Order())}");
                default:
                    options.AddRange(["--" + name, value]);
                    break;
            }
        }
        return options;
    }

    /// <summary>Writes to the console and keeps a copy for the failure file.</summary>
    sealed class TeeWriter(TextWriter console, TextWriter copy) : TextWriter
    {
        public override System.Text.Encoding Encoding => console.Encoding;

        public override void Write(char value)
        {
            console.Write(value);
            copy.Write(value);
        }

        public override void Write(char[] buffer, int index, int count)
        {
            console.Write(buffer, index, count);
            copy.Write(buffer, index, count);
        }

        public override void Write(string? value)
        {
            console.Write(value);
            copy.Write(value);
        }

        public override void WriteLine(string? value)
        {
            console.WriteLine(value);
            copy.WriteLine(value);
        }

        public override void Flush() => console.Flush();
    }
}
