using System.Text;
using System.Text.Json;

namespace SegHelpers.Tests.Notebooks;

/// <summary>The traces an HTML output draws: the data argument of its <c>Plotly.newPlot</c> call, read as JSON.</summary>
static class PlotlyChart
{
    const string Call = "Plotly.newPlot('";

    /// <summary>Each trace's name and number of points; null when the HTML draws no chart.</summary>
    public static List<(string Name, int Points)>? Traces(string html)
    {
        int call = html.IndexOf(Call, StringComparison.Ordinal);
        if (call < 0)
            return null;
        int data = html.IndexOf(',', html.IndexOf('\'', call + Call.Length)) + 1;
        var reader = new Utf8JsonReader(Encoding.UTF8.GetBytes(html[data..].TrimStart()), new JsonReaderOptions { AllowTrailingCommas = true });
        using var traces = JsonDocument.ParseValue(ref reader);
        return [.. traces.RootElement.EnumerateArray().Select(t => (
            t.TryGetProperty("name", out var name) ? name.GetString() ?? "" : "",
            t.GetProperty("x").GetArrayLength()))];
    }

    /// <summary>Every chart drawn in <paramref name="html"/>: its div id (<c>fig-…</c>) and its data, as compact JSON, in order.</summary>
    public static List<(string Id, string Data)> Calls(string html)
    {
        var calls = new List<(string, string)>();
        const string Figure = Call + "fig-";
        for (int at = html.IndexOf(Figure, StringComparison.Ordinal); at >= 0; at = html.IndexOf(Figure, at + 1, StringComparison.Ordinal))
        {
            int idEnd = html.IndexOf('\'', at + Call.Length);
            int data = html.IndexOf(',', idEnd) + 1;
            var reader = new Utf8JsonReader(Encoding.UTF8.GetBytes(html[data..].TrimStart()), new JsonReaderOptions { AllowTrailingCommas = true });
            using var traces = JsonDocument.ParseValue(ref reader);
            calls.Add((html[(at + Call.Length)..idEnd], JsonSerializer.Serialize(traces.RootElement)));
        }
        return calls;
    }

    /// <summary>How many traces and points: what must agree between two runs of the same cell.</summary>
    public static string Shape(string html) => Traces(html) is { } traces ? string.Join(", ", traces.Select(t => t.Points)) + $" points in {traces.Count} traces" : "no chart";
}
