using System.Runtime.InteropServices;
using System.Text.RegularExpressions;
using SegCli.Commands;
using SegHelpers.Serving;
using SegHelpers.Tests.Data;
using SegHelpers.Training;

namespace SegHelpers.Tests.Cli;

/// <summary>
/// The README's table of failures, read from the README: for every row the test makes that case happen (a real <c>seg</c> run
/// where it is quick, else the product's own code path in-process) and requires the row's message and exit code.
/// </summary>
public partial class ReadmeFailureTableTests
{
    sealed record Row(string Case, string Message, int Exit);

    sealed record Made(int Exit, string Output);

    static IReadOnlyList<Row> Rows()
    {
        string readme = File.ReadAllText(Repository.Path("README.md"));
        int start = readme.IndexOf("\n## Bad input and failures", StringComparison.Ordinal);
        Assert.True(start >= 0, "README.md has no \"## Bad input and failures\" section");
        int end = readme.IndexOf("\n## ", start + 1, StringComparison.Ordinal);
        var rows = new List<Row>();
        foreach (string line in readme[start..(end < 0 ? readme.Length : end)].Split('\n'))
        {
            var cells = line.Trim().Trim('|').Split('|').Select(c => c.Trim()).ToArray();
            if (!line.StartsWith('|') || cells.Length != 3 || cells[0] == "case" || cells[0].StartsWith("---", StringComparison.Ordinal))
                continue;
            rows.Add(new Row(cells[0], cells[1], int.Parse(cells[2], System.Globalization.CultureInfo.InvariantCulture)));
        }
        return rows;
    }

    /// <summary>The backticked messages of a cell as patterns (… is any text) and whether one of them is enough (joined by "or").</summary>
    static (IReadOnlyList<Regex> Patterns, bool Any) Patterns(string cell)
    {
        var parts = cell.Split('`');
        var patterns = parts.Where((_, i) => i % 2 == 1)
            .Select(p => new Regex("^" + Regex.Escape(p).Replace("…", ".*?", StringComparison.Ordinal), RegexOptions.Multiline)).ToList();
        bool any = parts.Where((_, i) => i % 2 == 0 && i > 0 && i < parts.Length - 1).Any(joint => joint.Trim() == "or");
        return (patterns, any);
    }

    [GeneratedRegex(@"(?m)^\d{4}-\d\d-\d\dT[0-9:.]+Z ")]
    private static partial Regex LogTime();

    static Made InProcess(Func<int> body)
    {
        var error = new StringWriter();
        int exit = SegCli.Commands.Cli.Run(body, error);
        return new Made(exit, error.ToString());
    }

    static Made Binary(params string[] args)
    {
        var (exit, stdout, stderr) = Seg.Run(args);
        return new Made(exit, LogTime().Replace(stdout + stderr, ""));
    }

    /// <summary>A trained one-epoch run on tiny synthetic data, made once for the cases that need a model.</summary>
    sealed class Fixture : IDisposable
    {
        public TempDir Dir { get; } = new();
        public string Data { get; }
        public string Run { get; }

        public Fixture()
        {
            Data = Kitti.Synthetic(Dir, count: 8, height: 40, width: 128);
            Run = Dir["run"];
            var (exit, _, stderr) = Seg.Run("train", "--data", Data, "--out", Run, "--epochs", "1", "--size", "32x96", "--width-divisor", "4",
                "--batch-size", "2", "--optimizer", "sgd", "--schedule", "constant", "--warmup-epochs", "0", "--device", "cpu");
            Assert.True(exit == 0, stderr);
        }

        public void Dispose() => Dir.Dispose();
    }

    // How each row's case is made to happen. A row the README adds without a line here fails the test, as does a line here
    // that the README no longer has.
    static readonly Dictionary<string, Func<Fixture, Made>> Cases = new()
    {
        ["a data folder that is not there"] = f => Binary("check", "--data", f.Dir["nowhere"]),
        ["an image that is truncated or not a PNG or JPEG"] = f =>
        {
            Directory.CreateDirectory(f.Dir["broken"]);
            File.WriteAllBytes(f.Dir["broken/um_000001.png"], [0x89, (byte)'P', (byte)'N', (byte)'G', 13, 10, 26, 10, 1, 2, 3]);
            return Binary("predict", "--model", f.Run, "--input", f.Dir["broken"], "--out", f.Dir["broken-out"]);
        },
        ["a weight file that is truncated or corrupt"] = f =>
        {
            byte[] whole = File.ReadAllBytes(Path.Combine(f.Run, "best.safetensors"));
            File.WriteAllBytes(f.Dir["truncated.safetensors"], whole[..(whole.Length / 2)]);
            return Binary("predict", "--model", f.Dir["truncated.safetensors"], "--input", Path.Combine(f.Data, "testing", "image_2"), "--out", f.Dir["t-out"]);
        },
        ["an option out of range"] = f => Binary("train", "--data", f.Data, "--out", f.Dir["zero"], "--epochs", "0"),
        ["CUDA asked for where there is none"] = f => Binary("predict", "--model", f.Run, "--input", Path.Combine(f.Data, "testing", "image_2"), "--out", f.Dir["c-out"], "--device", "cuda"),
        ["an output folder this user may not write"] = _ => Binary("synth", "--out", "/sys/seg-cannot-write", "--count", "1"),
        ["training diverged (a NaN or infinite loss, or non-finite gradients five steps in a row)"] = f =>
        {
            string copy = f.Dir["diverging"];
            Directory.CreateDirectory(copy);
            foreach (string file in Directory.GetFiles(f.Run))
                File.Copy(file, Path.Combine(copy, Path.GetFileName(file)));
            var run = new RunFolder(copy);
            var info = run.ReadInfo();
            run.WriteInfo(info with { Options = info.Options with { LearningRate = 1e12 } });
            return Binary("train", "--resume", copy, "--epochs", "2");
        },
        ["out of memory during training"] = _ => InProcess(() =>
            throw TrainingFailedException.OutOfMemory("cpu", 4, 160, 576, new ExternalException("DefaultCPUAllocator: not enough memory"))),
        ["the disk full while writing (finished files keep their last complete version)"] = _ => InProcess(() =>
            throw new IOException("No space left on device : '/data/run/last.safetensors.tmp'", 28)),
        ["a libtorch runtime error"] = _ => Binary("model", "summary", "--classes", "-1", "--width-divisor", "16"),
        ["anything else unexpected"] = _ => InProcess(() => throw new InvalidOperationException("the queue was already completed")),
        ["training interrupted (SIGTERM, Ctrl+C), on standard output"] = f =>
        {
            using var cancelled = new CancellationTokenSource();
            cancelled.Cancel();
            var result = Trainer.Train(f.Data, f.Dir["interrupted"], new TrainingOptions(Epochs: 2, BatchSize: 2, Height: 32, Width: 96, WidthDivisor: 4, Device: "cpu"), null, cancelled.Token);
            var output = new StringWriter();
            int exit = TrainCommand.Report(result, output, output);
            return new Made(exit, output.ToString());
        },
        ["`seg serve`: a model that cannot be loaded (after `listening on …`)"] = f => Binary("serve", "--model", f.Dir["no-model"], "--host", "127.0.0.1", "--port", "0"),
        ["`seg serve`: SIGTERM or Ctrl+C"] = f =>
        {
            using var server = ServerProcess.StartAsync(f.Run, ["--device", "cpu"]).GetAwaiter().GetResult();
            int exit = server.Stop();
            return new Made(exit, LogTime().Replace(server.Log, ""));
        },
    };

    [Fact]
    public void Every_row_of_the_readme_failure_table_is_what_seg_prints_and_exits_with()
    {
        var rows = Rows();
        using var fixture = new Fixture();

        Assert.True(rows.Count >= 10, $"{rows.Count} rows read from the README's failure table");
        var unknown = rows.Select(r => r.Case).Where(c => !Cases.ContainsKey(c)).ToList();
        Assert.True(unknown.Count == 0, $"README rows this test cannot make happen: {string.Join("; ", unknown)} (add them to Cases)");
        var gone = Cases.Keys.Except(rows.Select(r => r.Case)).ToList();
        Assert.True(gone.Count == 0, $"cases the README's table no longer has: {string.Join("; ", gone)}");
        var wrong = new List<string>();
        foreach (var row in rows)
        {
            var made = Cases[row.Case](fixture);
            var (patterns, any) = Patterns(row.Message);
            bool matched = patterns.Count > 0 && (any ? patterns.Any(p => p.IsMatch(made.Output)) : patterns.All(p => p.IsMatch(made.Output)));
            if (!matched || made.Exit != row.Exit)
                wrong.Add($"\"{row.Case}\": README says {row.Message}, exit {row.Exit}; seg exited {made.Exit} with:\n{made.Output.Trim()}");
        }
        Assert.True(wrong.Count == 0, string.Join("\n\n", wrong));
    }
}
