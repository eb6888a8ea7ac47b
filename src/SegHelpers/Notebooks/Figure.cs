using System.Text.Json;
using System.Text.Json.Nodes;

namespace SegHelpers.Notebooks;

/// <summary>
/// A plotly.js chart (traces and layout, plotly's own JSON) displayed as notebook HTML. plotly.js comes from the page:
/// a notebook displays <see cref="OfflineScript"/> once above its charts (as plotly.py's <c>init_notebook_mode</c> does)
/// and the HTML reports inline it, so charts draw without internet, live and in saved notebooks; without it, from the
/// plotly CDN. Built directly rather than through Plotly.NET, whose FSharp.Core 10.1 cannot load inside the .NET
/// Interactive kernel (which carries FSharp.Core 10.0).
/// </summary>
/// <param name="Data">The traces.</param>
/// <param name="Layout">The layout.</param>
[TypeFormatterSource(typeof(DisplayFormatters), PreferredMimeTypes = ["text/html"])]
public sealed record Figure(JsonArray Data, JsonObject Layout)
{
    /// <summary>The plotly.js version the figures are drawn with.</summary>
    public const string PlotlyVersion = "2.28.0";

    static readonly Lazy<string> Script = new(() =>
    {
        using var stream = typeof(Figure).Assembly.GetManifestResourceStream("plotly.min.js")
            ?? throw new InvalidOperationException("SegHelpers was built without its embedded plotly.min.js");
        return new StreamReader(stream).ReadToEnd();
    });

    /// <summary>plotly.js itself (MIT licensed), embedded in this library.</summary>
    public static string PlotlyJs => Script.Value;

    /// <summary>Marks the script element of <see cref="OfflineScript"/>, so that a report does not inline plotly.js twice.</summary>
    public const string OfflineMarker = "data-seg-plotly";

    /// <summary>
    /// plotly.js as one notebook output (3.6 MB): displayed once above a notebook's charts, it lets all of them draw with no
    /// internet, in Jupyter and when the saved notebook is opened later. <c>define</c>, <c>module</c> and <c>exports</c>
    /// are hidden from it so that it sets <c>window.Plotly</c> also where RequireJS is loaded (the classic notebook).
    /// </summary>
    public static HtmlView OfflineScript() => new(
        $"<script type=\"text/javascript\" {OfflineMarker}=\"{PlotlyVersion}\">(function (define, module, exports) {{\n{PlotlyJs}\n}})();</script>");

    /// <summary>A div and the script that draws the chart into it.</summary>
    public string Html
    {
        get
        {
            string id = "fig-" + Guid.NewGuid().ToString("N")[..12];
            string data = Data.ToJsonString(), layout = Layout.ToJsonString();
            return $$"""
                <div id="{{id}}" style="width:{{(int?)Layout["width"] ?? 700}}px;height:{{(int?)Layout["height"] ?? 400}}px"></div>
                <script type="text/javascript">
                (function () {
                  var draw = function () { Plotly.newPlot('{{id}}', {{data}}, {{layout}}, {"responsive": true}); };
                  if (window.Plotly) { draw(); return; }
                  var s = document.createElement('script');
                  s.src = 'https://cdn.plot.ly/plotly-{{PlotlyVersion}}.min.js';
                  s.onload = draw;
                  document.head.appendChild(s);
                })();
                </script>
                """;
        }
    }

    /// <summary>A line (or markers) trace.</summary>
    public static JsonObject Line(IEnumerable<double> x, IEnumerable<double> y, string name, bool markers = false, string axes = "") => Trace(new JsonObject
    {
        ["type"] = "scatter",
        ["mode"] = markers ? "lines+markers" : "lines",
        ["name"] = name,
        ["x"] = Numbers(x),
        ["y"] = Numbers(y),
    }, axes);

    /// <summary>A bar trace.</summary>
    public static JsonObject Bar(IEnumerable<string> x, IEnumerable<double> y, string name) => new()
    {
        ["type"] = "bar",
        ["name"] = name,
        ["x"] = new JsonArray([.. x.Select(v => (JsonNode)v)]),
        ["y"] = Numbers(y),
    };

    /// <summary>A histogram trace of <paramref name="values"/> in bins of <paramref name="binSize"/> from <paramref name="start"/>.</summary>
    public static JsonObject Histogram(IEnumerable<double> values, string name, double start, double end, double binSize) => new()
    {
        ["type"] = "histogram",
        ["name"] = name,
        ["x"] = Numbers(values),
        ["xbins"] = new JsonObject { ["start"] = start, ["end"] = end, ["size"] = binSize },
    };

    /// <summary>An axis with a title and optionally a fixed range.</summary>
    public static JsonObject Axis(string title, double? min = null, double? max = null)
    {
        var axis = new JsonObject { ["title"] = new JsonObject { ["text"] = title } };
        if (min is not null && max is not null)
            axis["range"] = new JsonArray(min.Value, max.Value);
        return axis;
    }

    /// <summary>Writes a standalone page that draws offline (plotly.js inline).</summary>
    public void Save(string path) => AtomicFile.WriteText(path, $"<!DOCTYPE html><html><head><meta charset=\"utf-8\">{OfflineScript().Html}</head><body>{Html}</body></html>\n");

    /// <summary>The figure as plotly JSON: <c>{"data": …, "layout": …}</c>.</summary>
    public string ToJson() => new JsonObject { ["data"] = Data.DeepClone(), ["layout"] = Layout.DeepClone() }.ToJsonString(new JsonSerializerOptions { WriteIndented = true });

    /// <inheritdoc/>
    public override string ToString() => $"plotly figure: {string.Join(", ", Data.Select(t => (string?)t?["name"]))}";

    static JsonObject Trace(JsonObject trace, string axes)
    {
        if (axes.Length > 0)
            (trace["xaxis"], trace["yaxis"]) = ("x" + axes, "y" + axes);
        return trace;
    }

    static JsonArray Numbers(IEnumerable<double> values) =>
        new([.. values.Select(v => double.IsFinite(v) ? (JsonNode)JsonValue.Create(v) : null)]);
}
