using System.Diagnostics;

namespace SegHelpers.Downloads;

/// <summary>
/// A download's progress as text for people: a line at most every <paramref name="every"/> and one at the end (what logs,
/// notebooks and SageMaker keep), or with <paramref name="rewrite"/> one line redrawn in place (a terminal).
/// </summary>
public sealed class DownloadLog(string name, Action<string> write, TimeSpan every, bool rewrite = false) : IProgress<DownloadProgress>
{
    readonly Stopwatch _since = Stopwatch.StartNew();
    bool _first = true;

    /// <inheritdoc />
    public void Report(DownloadProgress value)
    {
        bool done = value.Total == value.Bytes;
        if (!rewrite && !done && !_first && _since.Elapsed < every)
            return;
        _first = false;
        _since.Restart();
        write(rewrite ? $"\r{name}: {value}    {(done ? "\n" : "")}" : $"{name}: {value}");
    }
}
