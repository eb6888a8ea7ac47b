using System.Diagnostics;
using Spectre.Console;

namespace SegCli.Commands;

/// <summary>
/// Progress over a known number of items, on standard error: a live bar on a terminal, otherwise a plain line at the first
/// item, then at most every 10 seconds, and at the last (what SageMaker and CI logs keep).
/// </summary>
static class CountProgress
{
    /// <summary>Runs <paramref name="work"/> with a reporter of items done out of <paramref name="total"/>.</summary>
    public static T Run<T>(string label, int total, Func<IProgress<int>, T> work)
    {
        if (Console.IsErrorRedirected || !AnsiConsole.Profile.Capabilities.Interactive)
            return work(new Lines(label, total));
        T result = default!;
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
        console.Progress()
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
            .Start(context =>
            {
                var task = context.AddTask(label, maxValue: Math.Max(total, 1));
                result = work(new Progress(done => task.Value = done));
            });
        return result;
    }

    sealed class Progress(Action<int> report) : IProgress<int>
    {
        public void Report(int value) => report(value);
    }

    sealed class Lines(string label, int total) : IProgress<int>
    {
        readonly Stopwatch _clock = Stopwatch.StartNew();
        TimeSpan _last = -TimeSpan.FromDays(1);

        public void Report(int done)
        {
            if (done != 1 && done != total && _clock.Elapsed - _last < TimeSpan.FromSeconds(10))
                return;
            _last = _clock.Elapsed;
            var eta = done == 0 ? TimeSpan.Zero : _clock.Elapsed / done * (total - done);
            Console.Error.WriteLine($"{label} {done}/{total}  {_clock.Elapsed:mm\\:ss} elapsed, eta {eta:mm\\:ss}");
        }
    }
}
