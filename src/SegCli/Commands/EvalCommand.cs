using System.CommandLine;
using SegHelpers;
using SegHelpers.Data;
using SegHelpers.Evaluation;
using SegHelpers.Training;

namespace SegCli.Commands;

/// <summary><c>seg eval</c>: the KITTI benchmark's metrics for a trained model, or for a folder of probability maps.</summary>
static class EvalCommand
{
    public static Command Create()
    {
        var data = new Option<string>("--data") { Description = "KITTI data_road folder with labels.", Required = true };
        var model = new Option<string?>("--model") { Description = "Run folder (uses best.safetensors and the run's split and size), checkpoint file, or .onnx file (--backend onnxruntime)." };
        var probs = new Option<string?>("--probs") { Description = "Score this folder of {cat}_road_NNNNNN.png probability maps instead of running the model (with --model, on its validation split)." };
        var split = new Option<string?>("--split") { Description = $"{Cli.Keywords(RoadEvaluation.Splits)}: val, the run's validation split (default with --model), or all labelled images (default with --probs alone)." };
        var output = new Option<string?>("--out") { Description = "Folder for metrics.json and, with --model, the probability maps (default: RUN/eval-SPLIT with --model, the parent of DIR with --probs)." };
        var flip = new Option<bool>("--flip") { Description = "Average with the mirrored image's prediction." };
        var size = new Option<string?>("--size") { Description = "Network input HxW (default: the run's training size)." };
        var precision = new Option<string>("--precision") { DefaultValueFactory = _ => "fp32", Description = $"{Cli.Keywords(PredictionOptions.Precisions)}: bf16 is fast on CPUs with AVX512-BF16/AMX and on CUDA, and checked at run time." };
        var device = Cli.DeviceOption();
        var backend = Cli.BackendOption();
        var json = new Option<bool>("--json") { Description = "Print metrics.json instead of the table." };
        var bev = new Option<bool>("--bev") { Description = "Also score in KITTI's bird's-eye view, the space the leaderboard ranks in: each label and map through its training/calib file (metrics.json gets a \"bev\" section)." };
        var command = new Command("eval", "KITTI Road metrics (MaxF, AP, PRE, REC, FPR, FNR per category and URBAN_ROAD) plus road IoU.")
        {
            data, model, probs, split, output, flip, size, device, json, precision, bev, backend,
        };
        command.SetAction(parse => Cli.Run(() =>
        {
            var dataset = KittiRoad.Open(parse.GetValue(data)!);
            string? modelPath = parse.GetValue(model);
            string which = parse.GetValue(split) ?? (modelPath is null ? "all" : "val");
            if (!RoadEvaluation.Splits.Contains(which))
                throw new ArgumentException($"--split must be {string.Join(" or ", RoadEvaluation.Splits)}, not '{which}'");
            if (modelPath is null && which == "val")
                throw new ArgumentException("--split val needs --model RUN, whose options.json holds the split");
            if (modelPath is null && parse.GetValue(probs) is null)
                throw new ArgumentException("pass --model RUN (a run folder or checkpoint) or --probs DIR");
            string? note = null;
            IReadOnlyList<KittiSample> samples = modelPath is null ? dataset.Training : RoadEvaluation.SamplesFor(dataset, modelPath, which, out note);
            if (note is not null)
                Console.Error.WriteLine($"note: {note}");
            var views = parse.GetValue(bev) ? RoadEvaluation.BirdsEyeFor(dataset, samples) : null;
            if (views is null && Directory.Exists(Path.Combine(dataset.Root, "training", "calib")))
                Console.Error.WriteLine("note: these figures are in the image's perspective; add --bev for the bird's-eye view the KITTI leaderboard ranks in");
            EvaluationReport report;
            string outDir, mapsDir;
            if (parse.GetValue(probs) is { } probsDir)
            {
                mapsDir = Path.GetFullPath(probsDir);
                outDir = Path.GetFullPath(parse.GetValue(output) ?? Path.GetDirectoryName(mapsDir)!);
                report = CountProgress.Run("scoring", samples.Count, progress => RoadEvaluation.Score(samples, mapsDir, progress, views));
                Directory.CreateDirectory(outDir);
                report.WriteJson(Path.Combine(outDir, "metrics.json"));
            }
            else
            {
                var options = RoadPredictor.DefaultOptions(modelPath!, parse.GetValue(backend)) with { Flip = parse.GetValue(flip), Precision = parse.GetValue(precision)!, Device = parse.GetValue(device)! };
                options = options with { Backend = parse.GetValue(backend) ?? options.Backend };
                if (parse.GetValue(size) is { } s)
                {
                    var (h, w) = Cli.ParseSize(s);
                    options = options with { Height = h, Width = w };
                }
                using var predictor = RoadPredictor.Load(modelPath!, options);
                var modelFolder = Directory.Exists(modelPath) ? modelPath : Path.GetDirectoryName(Path.GetFullPath(modelPath!))!;
                outDir = Path.GetFullPath(parse.GetValue(output) ?? Path.Combine(modelFolder, $"eval-{which}"));
                mapsDir = Path.Combine(outDir, "probs");
                Console.Error.WriteLine($"evaluating {samples.Count} images at {options.Height}×{options.Width} in {predictor.Options.Precision} on {predictor.Device}{(options.Flip ? " with flip averaging" : "")}");
                report = CountProgress.Run("evaluating", samples.Count, progress => RoadEvaluation.RunInto(predictor, samples, outDir, progress, views));
            }
            string metrics = Path.Combine(outDir, "metrics.json");
            if (parse.GetValue(json))
            {
                Console.WriteLine(File.ReadAllText(metrics));
                return 0;
            }
            if (report.BirdsEye is not null)
                Console.WriteLine("perspective (the image's pixels):");
            Console.Write(Table.Benchmark(report.Benchmark).ToText());
            Console.WriteLine();
            Console.WriteLine($"at p ≥ 0.5: road IoU {report.Matrix.IoU(RoadLabel.Road):F4}  mean IoU {report.Matrix.MeanIoU():F4}  pixel accuracy {report.Matrix.PixelAccuracy():F4}");
            if (report.BirdsEye is { } birdsEye)
            {
                Console.WriteLine();
                Console.WriteLine($"bird's-eye view ({BirdsEyeView.Resolution} m cells, x {BirdsEyeView.XRange.Min}…{BirdsEyeView.XRange.Max} m, z {BirdsEyeView.ZRange.Min}…{BirdsEyeView.ZRange.Max} m; what the KITTI leaderboard ranks):");
                Console.Write(Table.Benchmark(birdsEye.Benchmark).ToText());
                Console.WriteLine();
                Console.WriteLine($"at p ≥ 0.5: road IoU {birdsEye.Matrix.IoU(RoadLabel.Road):F4}  mean IoU {birdsEye.Matrix.MeanIoU():F4}");
            }
            Console.WriteLine($"worst: {string.Join(", ", report.Worst(3).Select(i => $"{i.Id} ({i.RoadIoU:F3})"))}");
            Console.WriteLine(parse.GetValue(probs) is null ? $"wrote {metrics} and {samples.Count} probability maps in {mapsDir}" : $"wrote {metrics}");
            return 0;
        }));
        return command;
    }
}
