using System.CommandLine;
using SegHelpers.Benchmarks;

namespace SegCli.Commands;

/// <summary><c>seg bench</c>: FCN-8s throughput, the data pipeline and memory on this machine (see docs/performance.md).</summary>
static class BenchCommand
{
    public static Command Create()
    {
        var json = new Option<string?>("--json") { Description = "Also write every figure (with its samples) to this JSON file." };
        var quick = new Option<bool>("--quick") { Description = "A one-minute look: quarter-width FCN-8s at 96x320, batch 4." };
        var sizes = new Option<string?>("--sizes") { Description = "Comma-separated HxW sizes (default 160x576,375x1242)." };
        var batches = new Option<string?>("--batch-sizes") { Description = "Comma-separated batch sizes (default 1,4)." };
        var divisor = new Option<int?>("--width-divisor") { Description = "Channel divisor (default 1: VGG16 widths)." };
        var repeats = new Option<int?>("--repeats") { Description = "Timed runs per figure (default 5)." };
        var warmup = new Option<int?>("--warmup") { Description = "Untimed runs first (default 1)." };
        var noTrain = new Option<bool>("--no-train") { Description = "Skip training-step figures." };
        var noBf16 = new Option<bool>("--no-bf16") { Description = "Skip bf16 figures." };
        var model = new Option<string?>("--model") { Description = "A trained run: also compare fp32 and bf16 road IoU and speed on its validation split (needs --data)." };
        var data = new Option<string?>("--data") { Description = "The run's data folder, for --model." };
        var modelOnly = new Option<bool>("--model-only") { Description = "Only matmul and model figures (what bench/compare.sh compares with PyTorch)." };
        var device = new Option<string>("--device") { DefaultValueFactory = _ => "auto", Description = $"{Cli.Keywords(SegHelpers.Native.Devices.Names)}." };
        var command = new Command("bench", "Measure FCN-8s training and inference throughput, the data pipeline and memory; medians of repeated runs.")
        {
            json, quick, sizes, batches, divisor, repeats, warmup, noTrain, noBf16, model, data, modelOnly, device,
        };
        command.SetAction(parse => Cli.Run(() =>
        {
            var o = parse.GetValue(quick) ? BenchOptions.Quick : BenchOptions.Default;
            if (parse.GetValue(sizes) is { } s)
                o = o with { Sizes = [.. s.Split(',').Select(Cli.ParseSize)] };
            if (parse.GetValue(batches) is { } b)
                o = o with { BatchSizes = [.. b.Split(',').Select(v => int.TryParse(v, out int n) && n > 0 ? n : throw new ArgumentException($"--batch-sizes: '{v}' is not a positive number"))] };
            o = o with
            {
                WidthDivisor = parse.GetValue(divisor) ?? o.WidthDivisor,
                Repeats = parse.GetValue(repeats) ?? o.Repeats,
                Warmup = parse.GetValue(warmup) ?? o.Warmup,
                Train = !parse.GetValue(noTrain),
                Bf16 = !parse.GetValue(noBf16),
                Device = parse.GetValue(device)!,
            };
            if (parse.GetValue(modelOnly))
                o = o with { PipelineImages = 0, DriftEpochs = 0 };
            if (o.Repeats < 1 || o.Warmup < 0)
                throw new ArgumentException("--repeats must be at least 1 and --warmup at least 0");
            var report = Bench.Run(o, line => Console.WriteLine(line));
            var figures = report.Figures.ToList();
            if (parse.GetValue(model) is { } run)
                figures.AddRange(Bench.PrecisionComparison(run, parse.GetValue(data) ?? throw new ArgumentException("--model needs --data (the run's data folder)"), o, line => Console.WriteLine(line)));
            report = report with { Figures = figures };
            Console.WriteLine();
            Console.WriteLine($"machine: {report.Machine}");
            Console.WriteLine($"runtime: {report.Runtime}");
            foreach (var note in report.Notes)
                Console.WriteLine($"note: {note}");
            if (parse.GetValue(json) is { } path)
            {
                report.WriteJson(path);
                Console.WriteLine($"wrote {path}");
            }
            return 0;
        }));
        return command;
    }
}
