using System.Diagnostics;
using SegHelpers.Training;
using Spectre.Console;

namespace SegCli.Commands;

/// <summary>Shows training progress: a live bar with loss, images/s and ETA on a terminal, plain lines in logs.</summary>
static class TrainingConsole
{
    public static TrainingResult Run(Func<IProgress<TrainingEvent>, TrainingResult> train)
    {
        if (!AnsiConsole.Profile.Capabilities.Interactive || Console.IsOutputRedirected)
            return train(new Lines());
        TrainingResult? result = null;
        AnsiConsole.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn(), new SpinnerColumn())
            .Start(context =>
            {
                var task = context.AddTask("starting", maxValue: 1);
                result = train(new Bar(task));
            });
        return result!;
    }

    /// <summary>One line per epoch, plus a step line at most every 10 seconds.</summary>
    sealed class Lines : IProgress<TrainingEvent>
    {
        readonly Stopwatch _sinceLine = Stopwatch.StartNew();

        public void Report(TrainingEvent value)
        {
            switch (value)
            {
                case MessageEvent m:
                    Console.WriteLine(m.Text);
                    break;
                case StepEvent s when _sinceLine.Elapsed.TotalSeconds >= 10 || s.GlobalStep == 1:
                    Console.WriteLine(ProgressLines.Step(s));
                    _sinceLine.Restart();
                    break;
                case EpochEvent e:
                    Console.WriteLine(ProgressLines.Epoch(e.Metrics) + $"  eta {ProgressLines.Eta(e.Eta)}");
                    _sinceLine.Restart();
                    break;
            }
        }
    }

    /// <summary>A Spectre.Console progress bar over all steps of the run.</summary>
    sealed class Bar(ProgressTask task) : IProgress<TrainingEvent>
    {
        public void Report(TrainingEvent value)
        {
            switch (value)
            {
                case MessageEvent m:
                    AnsiConsole.MarkupLineInterpolated($"[grey]{m.Text}[/]");
                    break;
                case StepEvent s:
                    task.MaxValue = s.TotalSteps;
                    task.Description = $"epoch {s.Epoch + 1} step {s.Step + 1}/{s.StepsPerEpoch} loss {s.Loss:F4} {s.ImagesPerSecond:F1} img/s";
                    task.Value = s.GlobalStep;
                    break;
                case EpochEvent e:
                    AnsiConsole.WriteLine(ProgressLines.Epoch(e.Metrics));
                    break;
            }
        }
    }
}
