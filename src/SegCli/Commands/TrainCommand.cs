using System.CommandLine;
using System.Globalization;
using System.Runtime.InteropServices;
using SegHelpers.Model;
using SegHelpers.Model.Weights;
using SegHelpers.Native;
using SegHelpers.Training;

namespace SegCli.Commands;

/// <summary><c>seg train</c>: train an FCN, or resume a run.</summary>
static class TrainCommand
{
    public static Command Create()
    {
        var d = new TrainingOptions();
        var data = new Option<string?>("--data") { Description = "KITTI-layout data folder (required for a new run)." };
        var output = new Option<string?>("--out") { Description = "Run folder to create: options.json, metrics.jsonl, last/best.safetensors." };
        var resume = new Option<string?>("--resume") { Description = "Continue the run in this folder where it stopped." };
        var epochs = new Option<int>("--epochs") { DefaultValueFactory = _ => d.Epochs, Description = "Passes over the training split." };
        var batch = new Option<int>("--batch-size") { DefaultValueFactory = _ => d.BatchSize, Description = "Images per step." };
        var size = new Option<string>("--size") { DefaultValueFactory = _ => $"{d.Height}x{d.Width}", Description = "Training size HxW." };
        var lr = new Option<double>("--lr") { DefaultValueFactory = _ => d.LearningRate, Description = "Peak learning rate." };
        var optimizer = new Option<string>("--optimizer") { DefaultValueFactory = _ => d.Optimizer, Description = $"{Cli.Keywords(TrainingOptions.Optimizers)}." };
        var momentum = new Option<double>("--momentum") { DefaultValueFactory = _ => d.Momentum, Description = "SGD momentum." };
        var decay = new Option<double>("--weight-decay") { DefaultValueFactory = _ => d.WeightDecay, Description = "L2 penalty." };
        var schedule = new Option<string>("--schedule") { DefaultValueFactory = _ => d.Schedule, Description = $"{Cli.Keywords(TrainingOptions.Schedules)}: how the learning rate falls after the warm-up." };
        var warmup = new Option<double>("--warmup-epochs") { DefaultValueFactory = _ => d.WarmupEpochs, Description = "Linear warm-up length in epochs." };
        var variant = new Option<string>("--variant") { DefaultValueFactory = _ => d.Variant, Description = $"{Cli.Keywords(FcnOptions.Variants)}." };
        var divisor = new Option<int>("--width-divisor") { DefaultValueFactory = _ => d.WidthDivisor, Description = "Divide every channel count (1 = VGG16)." };
        var dropout = new Option<double>("--dropout") { DefaultValueFactory = _ => d.Dropout, Description = "Dropout after fc6 and fc7." };
        var encoder = new Option<string?>("--encoder-weights") { Description = $"{ImageNetVgg16.Keyword} (torchvision's ImageNet VGG16, downloaded and checked once: the paper's start, and what gives its results), or a file of VGG16 weights (.pth or .safetensors); default: from scratch." };
        var freeze = new Option<int>("--freeze-encoder-epochs") { DefaultValueFactory = _ => d.FreezeEncoderEpochs, Description = "Train only the decoder this many epochs first." };
        var classWeights = new Option<string?>("--class-weights") { Description = "Loss weights 'NONROAD,ROAD', e.g. 1,2." };
        var valFraction = new Option<double>("--val-fraction") { DefaultValueFactory = _ => d.ValidationFraction, Description = "Share of each category held out." };
        var splitFile = new Option<string?>("--split-file") { Description = "File of validation ids, one per line." };
        var noAugment = new Option<bool>("--no-augment") { Description = "Train on resized images without random scale, crop, flip or jitter." };
        var every = new Option<int>("--checkpoint-every") { DefaultValueFactory = _ => d.CheckpointEvery, Description = "Epochs between resumable checkpoints." };
        var patience = new Option<int>("--early-stopping") { DefaultValueFactory = _ => d.EarlyStoppingPatience, Description = "Stop after N epochs without a better IoU (0 = off)." };
        var seed = new Option<int>("--seed") { DefaultValueFactory = _ => d.Seed, Description = "Seed for split, order, augmentation, init and dropout." };
        var device = Cli.DeviceOption(d.Device);
        var precision = new Option<string>("--precision")
        {
            DefaultValueFactory = _ => d.Precision,
            Description = $"{Cli.Keywords(TrainingPrecision.Names)}: fp32; bf16 (CPUs with AVX512-BF16/AMX, CUDA 8.0+); fp16 (CUDA, loss-scaled); auto = fastest safe one. The encoder only, fp32 master weights.",
        };
        var command = new Command("train", "Train an FCN on a KITTI-layout folder (or --resume a run); live progress, metrics.jsonl, atomic checkpoints.")
        {
            data, output, resume, epochs, batch, size, lr, optimizer, momentum, decay, schedule, warmup, variant, divisor, dropout,
            encoder, freeze, classWeights, valFraction, splitFile, noAugment, every, patience, seed, device, precision,
        };
        command.SetAction(parse => Cli.Run(() =>
        {
            TorchNative.EnsureLoadable();
            using var cancel = new CancellationTokenSource();
            using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context => { context.Cancel = true; cancel.Cancel(); });
            using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, context => { context.Cancel = true; cancel.Cancel(); });
            TrainingResult result;
            if (parse.GetValue(resume) is { } runToResume)
            {
                var given = command.Options.Where(o => o != resume && parse.GetResult(o) is { Implicit: false }).Select(o => o.Name).ToList();
                var refused = given.Where(n => !ResumeChanges.OptionNames.Contains(n)).ToList();
                if (refused.Count > 0)
                    throw new ArgumentException($"--resume continues {runToResume} with its own options; {string.Join(", ", refused)} cannot change " +
                                                $"without making it another run (start one with --out). A resume may change {string.Join(", ", ResumeChanges.OptionNames)}");
                var changes = new ResumeChanges(
                    given.Contains("--epochs") ? parse.GetValue(epochs) : null,
                    given.Contains("--device") ? parse.GetValue(device) : null,
                    given.Contains("--checkpoint-every") ? parse.GetValue(every) : null,
                    given.Contains("--early-stopping") ? parse.GetValue(patience) : null,
                    given.Contains("--precision") ? parse.GetValue(precision) : null);
                result = TrainingConsole.Run(progress => Trainer.Resume(runToResume, progress, cancel.Token, changes));
            }
            else
            {
                string dataDir = parse.GetValue(data) ?? throw new ArgumentException("--data is required for a new run (or use --resume RUN)");
                string runDir = parse.GetValue(output) ?? throw new ArgumentException("--out is required for a new run");
                var (h, w) = Cli.ParseSize(parse.GetValue(size)!);
                var options = new TrainingOptions
                {
                    Epochs = parse.GetValue(epochs), BatchSize = parse.GetValue(batch), Height = h, Width = w,
                    LearningRate = parse.GetValue(lr), Optimizer = parse.GetValue(optimizer)!, Momentum = parse.GetValue(momentum),
                    WeightDecay = parse.GetValue(decay), Schedule = parse.GetValue(schedule)!, WarmupEpochs = parse.GetValue(warmup),
                    Variant = parse.GetValue(variant)!, WidthDivisor = parse.GetValue(divisor), Dropout = parse.GetValue(dropout),
                    EncoderWeights = parse.GetValue(encoder), FreezeEncoderEpochs = parse.GetValue(freeze),
                    ClassWeights = TrainingOptions.ParseClassWeights(parse.GetValue(classWeights)), ValidationFraction = parse.GetValue(valFraction),
                    SplitFile = parse.GetValue(splitFile), Augment = !parse.GetValue(noAugment), CheckpointEvery = parse.GetValue(every),
                    EarlyStoppingPatience = parse.GetValue(patience), Seed = parse.GetValue(seed), Device = parse.GetValue(device)!,
                    Precision = parse.GetValue(precision)!,
                };
                result = TrainingConsole.Run(progress => Trainer.Train(dataDir, runDir, options, progress, cancel.Token));
            }
            return Report(result, Console.Out, Console.Error);
        }));
        return command;
    }

    /// <summary>
    /// How a run ended, as <c>seg train</c> says it: a finished run on stdout (<c>completed: …</c>, <c>stoppedearly: …</c>), an
    /// interrupted one with its resume command on stdout, a diverged one as an <c>error:</c> line on stderr; then the run's
    /// best epoch. Returns the exit code: 0 finished, 130 interrupted, 1 diverged.
    /// </summary>
    internal static int Report(TrainingResult result, TextWriter output, TextWriter error)
    {
        if (result.Status == TrainingStatus.Diverged)
            error.WriteLine($"error: training diverged: {result.Message}");
        else if (result.Status == TrainingStatus.Interrupted)
            output.WriteLine(result.Message);
        else
            output.WriteLine($"{result.Status.ToString().ToLowerInvariant()}: {result.Message}");
        var best = result.History.FirstOrDefault(m => m.Epoch == result.BestEpoch);
        output.WriteLine($"run {result.Run.Path}: best epoch {result.BestEpoch}, val road IoU {result.BestRoadIoU:F4}" +
                         (best is null ? "" : $", MaxF {100 * best.MaxF:F2}"));
        return result.Status switch
        {
            TrainingStatus.Completed or TrainingStatus.StoppedEarly => 0,
            TrainingStatus.Interrupted => 130,
            _ => 1,
        };
    }
}
