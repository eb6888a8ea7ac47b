using System.Text.RegularExpressions;
using Plotly.NET;

namespace SegHelpers.Notebooks;

/// <summary>
/// A Plotly.NET chart as notebook HTML. plotly.js comes from the page when present (the HTML reports inline it, see
/// <see cref="PlotlyScript"/>), otherwise from the plotly CDN, so the same output draws in Jupyter and in a saved report.
/// </summary>
[TypeFormatterSource(typeof(DisplayFormatters), PreferredMimeTypes = ["text/html"])]
public sealed partial record Figure(string Html)
{
    /// <summary>The plotly.js version Plotly.NET targets.</summary>
    public const string PlotlyVersion = "2.28.0";

    static readonly Lazy<string> Script = new(() =>
    {
        using var stream = typeof(GenericChart).Assembly.GetManifestResourceStream($"Plotly.NET.plotly-{PlotlyVersion}.min.js")
            ?? throw new InvalidOperationException($"Plotly.NET does not embed plotly-{PlotlyVersion}.min.js");
        return new StreamReader(stream).ReadToEnd();
    });

    /// <summary>The plotly.js library (from Plotly.NET's resources), for offline pages.</summary>
    public static string PlotlyScript => Script.Value;

    /// <summary>Wraps a chart.</summary>
    public static Figure From(GenericChart chart)
    {
        string html = GenericChart.toChartHTML(chart);
        html = RenderCall().Replace(html, m =>
            $"(function() {{ if (window.Plotly) {{ {m.Groups[1].Value}(); return; }} var s = document.createElement('script'); " +
            $"s.src = 'https://cdn.plot.ly/plotly-{PlotlyVersion}.min.js'; s.onload = {m.Groups[1].Value}; document.head.appendChild(s); }})();\n</script>", 1);
        return new Figure(html);
    }

    /// <summary>Writes a standalone page with plotly.js inline, viewable offline.</summary>
    public void Save(string path) =>
        AtomicFile.WriteText(path, $"<!DOCTYPE html><html><head><meta charset=\"utf-8\"><script>{PlotlyScript}</script></head><body>{Html}</body></html>\n");

    /// <inheritdoc/>
    public override string ToString() => "Plotly figure";

    [GeneratedRegex(@"(renderPlotly_\w+)\(\);\s*</script>")]
    private static partial Regex RenderCall();
}
