using System.Net;
using System.Text;
using Markdig;
using Microsoft.DotNet.Interactive.Documents;
using SegHelpers.Notebooks;

namespace SegNotebooks;

/// <summary>A standalone HTML page of an executed notebook: markdown rendered, code, and every output.</summary>
public static class NotebookReport
{
    static readonly MarkdownPipeline Markdown = new MarkdownPipelineBuilder().UseAdvancedExtensions().Build();

    /// <summary>The page for <paramref name="notebook"/>.</summary>
    public static string Html(InteractiveDocument notebook, string title)
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
        foreach (var cell in notebook.Elements)
        {
            if (cell.KernelName is "markdown" or "md")
            {
                html.Append("<div class=\"markdown\">").Append(Markdig.Markdown.ToHtml(cell.Contents, Markdown)).Append("</div>\n");
                continue;
            }
            if (!NotebookFile.IsCode(cell))
                continue; // raw cells are not shown, as before
            html.Append($"<div class=\"code\"><div class=\"count\">In [{(cell.ExecutionOrder > 0 ? cell.ExecutionOrder.ToString() : " ")}]</div><pre>{WebUtility.HtmlEncode(cell.Contents)}</pre>");
            foreach (var output in cell.Outputs)
                html.Append(Output(output));
            html.Append("</div>\n");
        }
        html.Append("</body></html>\n");
        string page = html.ToString();
        // Charts draw offline: plotly.js goes inline once, ahead of the figures that look for it, unless a cell showed it.
        return page.Contains("Plotly.newPlot", StringComparison.Ordinal) && !page.Contains(Figure.OfflineMarker, StringComparison.Ordinal)
            ? page.Insert(page.IndexOf("</head>", StringComparison.Ordinal), Figure.OfflineScript().Html)
            : page;
    }

    static string Output(InteractiveDocumentOutputElement output)
    {
        switch (output)
        {
            case TextElement text:
                return $"<pre class=\"{text.Name}\">{WebUtility.HtmlEncode(text.Text)}</pre>";
            case ErrorElement error:
                return $"<pre class=\"error\">{WebUtility.HtmlEncode(error.ErrorName)}: {WebUtility.HtmlEncode(error.ErrorValue)}</pre>";
            case DisplayElement { Data: var data }:
                return Data(data);
            case ReturnValueElement { Data: var data }:
                return Data(data);
            default:
                return "";
        }
    }

    static string Data(IDictionary<string, object> data) =>
        data.TryGetValue("text/html", out var html) ? $"<div>{html}</div>"
        : data.TryGetValue("image/png", out var png) ? $"<div><img src=\"data:image/png;base64,{png}\"></div>"
        : data.TryGetValue("text/plain", out var plain) ? $"<pre>{WebUtility.HtmlEncode(plain?.ToString())}</pre>"
        : "";
}
