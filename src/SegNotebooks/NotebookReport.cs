using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Markdig;

namespace SegNotebooks;

/// <summary>A standalone HTML page of an executed notebook: markdown rendered, code, and every output.</summary>
public static class NotebookReport
{
    static readonly Lazy<string> PlotlyScript = new(() =>
    {
        string name = $"Plotly.NET.plotly-{SegHelpers.Notebooks.Figure.PlotlyVersion}.min.js";
        using var stream = typeof(Plotly.NET.GenericChart).Assembly.GetManifestResourceStream(name)
            ?? throw new InvalidOperationException($"Plotly.NET does not embed {name}");
        return new StreamReader(stream).ReadToEnd();
    });

    static readonly MarkdownPipeline Markdown = new MarkdownPipelineBuilder().UseAdvancedExtensions().Build();

    /// <summary>The page for <paramref name="notebook"/>.</summary>
    public static string Html(Notebook notebook, string title)
    {
        var html = new StringBuilder();
        html.Append($$"""
            <!DOCTYPE html>
            <html><head><meta charset="utf-8"><title>{{WebUtility.HtmlEncode(title)}}</title>
            <style>
            body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em; line-height: 1.45; }
            pre { background: #f6f8fa; padding: .6em; overflow-x: auto; border-radius: 4px; }
            .code pre { border-left: 3px solid #5b8def; }
            .count { color: #888; font-size: .8em; }
            .stderr { background: #fff4e5; }
            .error { background: #fde8e8; color: #900; }
            img { max-width: 100%; }
            table { border-collapse: collapse; } td, th { border: 1px solid #ccc; padding: 2px 8px; text-align: right; }
            </style></head><body>

            """);
        foreach (var cell in notebook.Cells)
        {
            switch (cell.Type)
            {
                case "markdown":
                    html.Append("<div class=\"markdown\">").Append(Markdig.Markdown.ToHtml(cell.Source, Markdown)).Append("</div>\n");
                    break;
                case "code":
                    html.Append($"<div class=\"code\"><div class=\"count\">In [{cell.ExecutionCount?.ToString() ?? " "}]</div><pre>{WebUtility.HtmlEncode(cell.Source)}</pre>");
                    foreach (var output in cell.Outputs.OfType<JsonObject>())
                        html.Append(Output(output));
                    html.Append("</div>\n");
                    break;
            }
        }
        html.Append("</body></html>\n");
        string page = html.ToString();
        // Charts draw offline: plotly.js goes inline once, ahead of the figures that look for it.
        return page.Contains("Plotly.newPlot", StringComparison.Ordinal)
            ? page.Insert(page.IndexOf("</head>", StringComparison.Ordinal), $"<script>{PlotlyScript.Value}</script>")
            : page;
    }

    static string Output(JsonObject output)
    {
        switch (output["output_type"]?.GetValue<string>())
        {
            case "stream":
                return $"<pre class=\"{output["name"]}\">{WebUtility.HtmlEncode(output["text"]?.GetValue<string>())}</pre>";
            case "error":
                return $"<pre class=\"error\">{WebUtility.HtmlEncode(output["ename"]?.GetValue<string>())}: {WebUtility.HtmlEncode(output["evalue"]?.GetValue<string>())}</pre>";
            default:
                var data = output["data"] as JsonObject ?? [];
                if (data["text/html"] is { } h)
                    return $"<div>{h.GetValue<string>()}</div>";
                if (data["image/png"] is { } png)
                    return $"<div><img src=\"data:image/png;base64,{png.GetValue<string>()}\"></div>";
                if (data["text/plain"] is { } text)
                    return $"<pre>{WebUtility.HtmlEncode(text.GetValue<string>())}</pre>";
                return "";
        }
    }
}
