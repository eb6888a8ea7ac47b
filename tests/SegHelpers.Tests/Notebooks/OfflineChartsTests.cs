using System.Diagnostics;
using SegHelpers.Tests.Cli;
using SegHelpers.Tests.Data;
using static SegHelpers.Tests.Notebooks.NotebookFiles;

namespace SegHelpers.Tests.Notebooks;

/// <summary>A fact that runs only where headless Chromium is installed (Debian's <c>chromium</c>), and says so otherwise.</summary>
sealed class ChromiumFactAttribute : FactAttribute
{
    public const string Path = "/usr/bin/chromium";

    public ChromiumFactAttribute()
    {
        if (!File.Exists(Path))
            Skip = $"no headless browser at {Path} (apt-get install chromium); this test draws charts in one with the network cut off";
    }
}

public class OfflineChartsTests
{
    /// <summary>The page as Chromium leaves it after running its scripts, with every network request sent to a closed port.</summary>
    static string RenderOffline(string htmlFile)
    {
        var start = new ProcessStartInfo(ChromiumFactAttribute.Path,
            ["--headless", "--no-sandbox", "--disable-gpu", "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>",
             "--virtual-time-budget=8000", "--dump-dom", new Uri(htmlFile).AbsoluteUri])
            { RedirectStandardOutput = true, RedirectStandardError = true };
        using var chromium = Process.Start(start)!;
        var dom = chromium.StandardOutput.ReadToEndAsync();
        _ = chromium.StandardError.ReadToEndAsync();
        if (!chromium.WaitForExit(TimeSpan.FromMinutes(2)))
            chromium.Kill(entireProcessTree: true);
        return dom.Result;
    }

    static int Drawn(string dom) => dom.Split("class=\"main-svg\"").Length - 1;

    [ChromiumFact]
    public void A_chart_below_the_offline_script_draws_with_no_network_and_without_it_does_not()
    {
        using var dir = new TempDir();
        string chart = "using System.Text.Json.Nodes;\nnew SegHelpers.Notebooks.Figure(new JsonArray(SegHelpers.Notebooks.Figure.Line([1.0, 2, 3], [3.0, 1, 2], \"loss\")), new JsonObject())";
        string notebook = Write(dir["t.ipynb"], ReferenceSegHelpers(), Code("SegHelpers.Notebooks.Figure.OfflineScript()"), Code(chart));

        var (exit, _, stderr) = Seg.Run("notebook", "run", notebook, "--out", dir["out"]);

        Assert.True(exit == 0, stderr);
        Assert.True(Drawn(RenderOffline(dir["out/t.html"])) > 0, "the HTML report draws its chart offline");
        // The executed notebook's outputs, in order, on a page of their own, as a Jupyter front end puts them in its page.
        var outputs = Cells(dir["out/t.ipynb"]).SelectMany(c => c!["outputs"]?.AsArray() ?? []).Select(o => o!["data"]?["text/html"]).OfType<System.Text.Json.Nodes.JsonNode>().Select(Text).ToList();
        File.WriteAllText(dir["outputs.html"], "<!DOCTYPE html><html><head><meta charset=\"utf-8\"></head><body>" + string.Concat(outputs) + "</body></html>");
        File.WriteAllText(dir["chart-only.html"], "<!DOCTYPE html><html><head><meta charset=\"utf-8\"></head><body>" + outputs[^1] + "</body></html>");
        Assert.True(Drawn(RenderOffline(dir["outputs.html"])) > 0, "the notebook's outputs draw the chart offline");
        Assert.Equal(0, Drawn(RenderOffline(dir["chart-only.html"]))); // without the script the chart needs the CDN: the check can fail
    }
}
