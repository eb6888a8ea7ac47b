using System.Text.Json.Nodes;
using SegHelpers.Tests.Cli;
using static SegHelpers.Tests.Notebooks.NotebookFiles;

namespace SegHelpers.Tests.Notebooks;

/// <summary>
/// The five notebooks in notebooks/, with the same small parameters, through Jupyter (Debian's nbconvert and the kernel tool
/// over the Jupyter protocol, as users run them) and through <c>seg notebook run</c>: both show the same outputs cell by cell,
/// and every cell shows what it is for.
/// </summary>
public class ProductNotebooksTests
{
    /// <summary>Small values, and an <c>Epochs</c> other than the default, so that what is shown must follow the parameters.</summary>
    static readonly Dictionary<string, string> Small = new()
    {
        ["SyntheticCount"] = "15", ["ShowCount"] = "2", ["Height"] = "64", ["Width"] = "192", ["WidthDivisor"] = "4",
        ["QuickEpochs"] = "1", ["Epochs"] = "3", ["FeatureChannels"] = "2", ["WorstCount"] = "2", ["OverlayCount"] = "2",
    };

    static readonly string[] Names = ["01-data", "02-encoder", "03-decoder", "04-training", "05-evaluation"];

    /// <summary>Cells whose text holds timings (epoch lines, ETA) or sizes of files that record them.</summary>
    static readonly string[] TimedCells = ["NotebookTraining.Run(", "Directory.GetFiles(runDir)"];

    [Fact]
    public void The_five_notebooks_show_the_same_in_Jupyter_and_in_seg_cell_by_cell()
    {
        using var dir = new TempDir();
        var environment = Jupyter.Environment(dir.Path);
        var jupyter = Jupyter.Workspace(dir["jupyter"], Names, Small);
        var seg = Jupyter.Workspace(dir["seg"], Names, Small);
        try
        {
            Jupyter.Execute(jupyter, dir["jupyter/out"], environment);
            var (exit, stdout, stderr) = Seg.Run(["notebook", "run", .. seg, "--out", dir["seg/out"]]);
            Assert.True(exit == 0, stdout + stderr);
            Assert.DoesNotContain("NNPACK", stdout + stderr); // the main job runs these notebooks the same way
        }
        finally
        {
            Jupyter.Unlink(dir["jupyter"]);
            Jupyter.Unlink(dir["seg"]);
        }

        foreach (string name in Names)
        {
            var fromJupyter = CodeCells(dir[$"jupyter/out/{name}.ipynb"], dir["jupyter"]);
            var fromSeg = CodeCells(dir[$"seg/out/{name}.ipynb"], dir["seg"]);
            AssertValid(dir[$"seg/out/{name}.ipynb"]);
            Assert.Equal(fromJupyter.Count, fromSeg.Count);
            for (int i = 0; i < fromJupyter.Count; i++)
                AssertSameOutputs($"{name}, code cell {i}:\n{fromJupyter[i].Source}\n", fromJupyter[i], fromSeg[i]);
            VisibleOutputs.Check(name, fromJupyter, Small, "Jupyter");
            VisibleOutputs.Check(name, fromSeg, Small, "seg");
        }
        foreach (string name in new[] { "01-data", "04-training", "05-evaluation" })
        {
            // Offline charts: plotly.js itself is an output above the first chart, once, in the notebook and in its report.
            var outputs = Cells(dir[$"seg/out/{name}.ipynb"]).SelectMany(c => c!["outputs"]?.AsArray() ?? []).Select(o => o!.ToJsonString()).ToList();
            int script = outputs.FindIndex(o => o.Contains(SegHelpers.Notebooks.Figure.OfflineMarker, StringComparison.Ordinal));
            int chart = outputs.FindIndex(o => o.Contains("Plotly.newPlot", StringComparison.Ordinal) && !o.Contains(SegHelpers.Notebooks.Figure.OfflineMarker, StringComparison.Ordinal));
            Assert.True(script >= 0 && script < chart, $"{name}: plotly.js at output {script}, first chart at {chart}");
            Assert.Single(outputs, o => o.Contains(SegHelpers.Notebooks.Figure.OfflineMarker, StringComparison.Ordinal));
            string report = File.ReadAllText(dir[$"seg/out/{name}.html"]);
            Assert.Equal(1, report.Split(SegHelpers.Notebooks.Figure.OfflineMarker).Length - 1);
            // every chart of the notebook is in its report, with the same data (plotly.js itself also holds "Plotly.newPlot")
            static string Html(System.Text.Json.Nodes.JsonNode? node) => node switch
            {
                System.Text.Json.Nodes.JsonArray lines => string.Concat(lines.Select(l => l!.GetValue<string>())),
                null => "",
                _ => node.GetValue<string>(),
            };
            var inNotebook = PlotlyChart.Calls(string.Concat(outputs.Select(o => Html(System.Text.Json.Nodes.JsonNode.Parse(o)!["data"]?["text/html"]))));
            var inReport = PlotlyChart.Calls(report);
            Assert.NotEmpty(inNotebook);
            Assert.Equal(inNotebook.Select(c => c.Id), inReport.Select(c => c.Id));
            Assert.Equal(inNotebook.Select(c => c.Data), inReport.Select(c => c.Data));
        }
        foreach (string side in new[] { "jupyter", "seg" })
        {
            Assert.True(File.Exists(dir[$"{side}/artifacts/run/best.safetensors"]), side);
            Assert.True(File.Exists(dir[$"{side}/artifacts/eval/metrics.json"]), side);
            int tests = Directory.GetFiles(dir[$"{side}/artifacts/data/testing/image_2"]).Length;
            Assert.Equal(tests, Directory.GetFiles(dir[$"{side}/artifacts/submission/probs"], "*_road_*.png").Length);
            Assert.Equal(tests, Directory.GetFiles(dir[$"{side}/artifacts/submission/bev"], "*_road_*.png").Length);
            using (var zip = System.IO.Compression.ZipFile.OpenRead(dir[$"{side}/artifacts/submission/kitti-road-bev-submission.zip"]))
                Assert.Equal(Directory.GetFiles(dir[$"{side}/artifacts/submission/bev"]).Select(Path.GetFileName).Order(), zip.Entries.Select(e => e.FullName).Order());
            var metrics = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(dir[$"{side}/artifacts/eval/metrics.json"]))!;
            Assert.Equal("perspective", metrics["space"]!.GetValue<string>());
            Assert.Equal("bev", metrics["bev"]!["space"]!.GetValue<string>());
            Assert.Equal(2, Directory.GetFiles(dir[$"{side}/artifacts/overlays"]).Length);
        }
    }

    /// <summary>The code cells of an executed notebook, with the side's own folder written as ROOT in every text.</summary>
    static List<ExecutedCell> CodeCells(string executed, string root)
    {
        var cells = Cells(executed).Where(c => c!["cell_type"]!.GetValue<string>() == "code")
            .Select(c => new ExecutedCell(Text(c!["source"]), [.. (c["outputs"]?.AsArray() ?? []).Select(o => JsonNode.Parse(o!.ToJsonString().Replace(root, "ROOT", StringComparison.Ordinal))!.AsObject())]))
            .ToList();
        // The kernel tool adds a hidden script of its own to the first cell it runs under Jupyter; it shows nothing.
        for (int i = 0; i < cells.Count; i++)
        {
            var bootstrap = cells[i].Outputs.Where(o => o["data"]?["text/html"] is { } html && Text(html).Contains(Jupyter.KernelBootstrapMarker, StringComparison.Ordinal)).ToList();
            if (bootstrap.Count == 0)
                continue;
            Assert.True(i == 0 && bootstrap.Count == 1, $"{executed}: the kernel's bootstrap script in code cell {i}, {bootstrap.Count} times");
            Assert.Contains("style='display: none'", Text(bootstrap[0]["data"]!["text/html"]));
            cells[i].Outputs.Remove(bootstrap[0]);
        }
        return cells;
    }

    static void AssertSameOutputs(string where, ExecutedCell jupyter, ExecutedCell seg)
    {
        Assert.True(jupyter.Outputs.Count == seg.Outputs.Count, $"{where}Jupyter shows {Describe(jupyter)}, seg {Describe(seg)}");
        bool timed = TimedCells.Any(t => jupyter.Source.Contains(t, StringComparison.Ordinal));
        foreach (var (j, s) in jupyter.Outputs.Zip(seg.Outputs))
        {
            string type = j["output_type"]!.GetValue<string>();
            Assert.True(type == s["output_type"]!.GetValue<string>(), $"{where}Jupyter shows {Describe(jupyter)}, seg {Describe(seg)}");
            if (type == "stream")
            {
                Assert.True(j["name"]!.GetValue<string>() == "stdout" && s["name"]!.GetValue<string>() == "stdout",
                    $"{where}standard error in Jupyter: {(j["name"]!.GetValue<string>() == "stderr" ? Text(j["text"]) : "none")}; in seg: {(s["name"]!.GetValue<string>() == "stderr" ? Text(s["text"]) : "none")}");
                if (!timed)
                    Assert.Equal(Text(j["text"]), Text(s["text"]));
                continue;
            }
            Assert.True(type != "error", $"{where}{j.ToJsonString()}");
            var data = (j["data"]!.AsObject(), s["data"]!.AsObject());
            Assert.Equal(data.Item1.Select(d => d.Key).Order(), data.Item2.Select(d => d.Key).Order());
            foreach (var (mime, value) in data.Item1)
            {
                string a = Text(value), b = Text(data.Item2[mime]);
                Assert.True(string.IsNullOrWhiteSpace(a) == string.IsNullOrWhiteSpace(b), $"{where}{mime} empty on one side: Jupyter '{Cut(a)}', seg '{Cut(b)}'");
                if (mime == "text/plain" && !timed)
                    Assert.Equal(a, b);
                if (mime == "text/html")
                {
                    Assert.Equal(PlotlyChart.Shape(a), PlotlyChart.Shape(b));
                    if (PlotlyChart.Traces(a) is null)
                        AssertSameHtml(where, a, b, timed);
                }
                if (mime == "image/png")
                    ShownOutput.AssertSame(where, SegHelpers.Data.ImageFile.DecodeRgb(Convert.FromBase64String(a.Trim()), "Jupyter's image/png"),
                        SegHelpers.Data.ImageFile.DecodeRgb(Convert.FromBase64String(b.Trim()), "seg's image/png"));
            }
        }
    }

    /// <summary>Tables and captions equal (numbers too, outside the cells that print timings); embedded pictures the same.</summary>
    static void AssertSameHtml(string where, string jupyter, string seg, bool timed)
    {
        var (jupyterHtml, jupyterImages) = ShownOutput.Normalise(jupyter, timed);
        var (segHtml, segImages) = ShownOutput.Normalise(seg, timed);
        int at = jupyterHtml.Zip(segHtml).TakeWhile(p => p.First == p.Second).Count();
        string Around(string html) => html[Math.Max(0, at - 60)..Math.Min(html.Length, at + 60)];
        Assert.True(jupyterHtml == segHtml, $"{where}HTML differs at character {at}:\nJupyter: …{Around(jupyterHtml)}…\nseg:     …{Around(segHtml)}…");
        Assert.Equal(jupyterImages.Count, segImages.Count);
        for (int i = 0; i < jupyterImages.Count; i++)
            ShownOutput.AssertSame($"{where}image {i + 1}: ", jupyterImages[i], segImages[i]);
    }

    static string Describe(ExecutedCell cell) => "[" + string.Join(", ", cell.Outputs.Select(o =>
        o["output_type"]!.GetValue<string>() + (o["name"] is { } n ? $" {n}" : "") + (o["data"] is JsonObject d ? $" {string.Join("+", d.Select(p => p.Key + (Text(p.Value).Trim().Length == 0 ? "(empty)" : "")))}" : ""))) + "]";

    static string Cut(string text) => text.Length > 120 ? text[..120] + "…" : text;
}

/// <summary>One executed code cell: its source and its outputs.</summary>
sealed record ExecutedCell(string Source, List<JsonObject> Outputs);
