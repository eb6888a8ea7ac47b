using SegHelpers.Training;

namespace SegHelpers.Notebooks;

/// <summary>
/// Training progress for a notebook: after every epoch the training curves are redrawn through
/// <paramref name="update"/> (pass a display handle's <c>Update</c>), one line per epoch goes to stdout, and a short status line is kept up to date
/// through <paramref name="status"/> while steps run.
/// </summary>
public sealed class LiveTrainingChart(Action<object> update, Action<object>? status = null) : IProgress<TrainingEvent>
{
    readonly List<EpochMetrics> _history = [];
    DateTime _lastStatus = DateTime.MinValue;

    /// <summary>The epochs seen so far.</summary>
    public IReadOnlyList<EpochMetrics> History => _history;

    /// <summary>Starts from the epochs of an earlier session (a resumed run).</summary>
    public void Seed(IEnumerable<EpochMetrics> earlier) => _history.AddRange(earlier);

    /// <inheritdoc/>
    public void Report(TrainingEvent value)
    {
        switch (value)
        {
            case StepEvent s when status is not null && (DateTime.UtcNow - _lastStatus).TotalSeconds >= 1:
                _lastStatus = DateTime.UtcNow;
                status(new HtmlView($"<code>{System.Net.WebUtility.HtmlEncode(ProgressLines.Step(s))}</code>"));
                break;
            case EpochEvent e:
                _history.RemoveAll(m => m.Epoch >= e.Metrics.Epoch);
                _history.Add(e.Metrics);
                update(Charts.TrainingCurves(_history));
                string line = ProgressLines.Epoch(e.Metrics) + $"  eta {ProgressLines.Eta(e.Eta)}";
                Console.WriteLine(line);
                status?.Invoke(new HtmlView($"<code>{System.Net.WebUtility.HtmlEncode(line)}</code>"));
                break;
            case MessageEvent m:
                Console.WriteLine(m.Text);
                break;
        }
    }
}
