using System.CommandLine;
using SegHelpers.Data;
using SegHelpers.Evaluation;
using SegHelpers.Native;
using SegHelpers.Training;

namespace SegCli.Commands;

/// <summary>
/// <c>seg main</c>: the README's main job on the embedded synthetic default. Makes and checks the data, trains
/// FCN-8s from scratch, scores the validation split with the KITTI metrics at full size and writes overlays.
/// </summary>
static class MainCommand
{
    /// <summary>The main job's training options: a quarter-width FCN-8s at 96×320, which converges on 2 CPU cores in minutes.</summary>
    public static readonly TrainingOptions Defaults = new(Epochs: 40, Height: 96, Width: 320, LearningRate: 3e-4, WidthDivisor: 4);

    public static Command Create()
    {
        var outDir = new Option<string>("--out") { Description = "Artifacts folder.", DefaultValueFactory = _ => "artifacts" };
        var count = new Option<int>("--count") { Description = "Synthetic labelled images.", DefaultValueFactory = _ => 40 };
        var epochs = new Option<int>("--epochs") { Description = "Training epochs.", DefaultValueFactory = _ => Defaults.Epochs };
        var command = new Command("main", "The whole job on the synthetic default: data, check, train, KITTI evaluation, overlays, all into --out.")
        {
            outDir, count, epochs,
        };
        command.SetAction(parse => Cli.Run(() =>
        {
            string artifacts = Path.GetFullPath(parse.GetValue(outDir)!);
            string data = Path.Combine(artifacts, "data");
            Console.WriteLine(TorchNative.Describe());
            SyntheticRoads.Write(data, new SyntheticOptions(Count: parse.GetValue(count)));
            Console.WriteLine($"synthetic KITTI data: {data}");
            var report = DatasetReport.Build(data);
            CheckCommand.Print(report);
            if (!report.Usable)
                return Cli.BadInput;

            TorchNative.EnsureLoadable();
            using var cancel = new CancellationTokenSource();
            using var sigterm = System.Runtime.InteropServices.PosixSignalRegistration.Create(
                System.Runtime.InteropServices.PosixSignal.SIGTERM, context => { context.Cancel = true; cancel.Cancel(); });
            string run = Path.Combine(artifacts, "run");
            if (Directory.Exists(run))
                Directory.Delete(run, recursive: true);
            var options = Defaults with { Epochs = parse.GetValue(epochs) };
            var result = TrainingConsole.Run(progress => Trainer.Train(data, run, options, progress, cancel.Token));
            Console.WriteLine($"{result.Status.ToString().ToLowerInvariant()}: {result.Message}; best epoch {result.BestEpoch}, val road IoU {result.BestRoadIoU:F4}");
            if (result.Status is not (TrainingStatus.Completed or TrainingStatus.StoppedEarly))
                return result.Status == TrainingStatus.Interrupted ? 130 : 1;

            var validation = new RunFolder(run).ReadInfo().Split(KittiRoad.Open(data)).Validation;
            using var predictor = RoadPredictor.Load(run);
            string evalDir = Path.Combine(artifacts, "eval");
            Console.WriteLine($"evaluating {validation.Count} validation images at full size");
            var evaluation = RoadEvaluation.Run(predictor, validation, Path.Combine(evalDir, "probs"));
            evaluation.WriteJson(Path.Combine(evalDir, "metrics.json"));
            EvalCommand.Print(evaluation.Benchmark);
            var overlays = RoadEvaluation.WriteOverlays(predictor, validation, Path.Combine(artifacts, "overlays"));
            Console.WriteLine($"full-size road IoU {evaluation.Matrix.IoU(RoadLabel.Road):F4}; wrote {evalDir}/metrics.json and {overlays.Count} overlays in {artifacts}/overlays");
            return 0;
        }));
        return command;
    }
}
