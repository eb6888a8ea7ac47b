using SegHelpers.Tests.Cli;
using SegHelpers.Tests.Data;
using static SegHelpers.Tests.Notebooks.NotebookFiles;

namespace SegHelpers.Tests.Notebooks;

/// <summary>The five notebooks in notebooks/ run headless top to bottom, with tiny parameters, the way CI must see them.</summary>
public class ProductNotebooksTests
{
    static readonly Dictionary<string, string> Tiny = new()
    {
        ["SyntheticCount"] = "15", ["ShowCount"] = "2", ["Height"] = "64", ["Width"] = "192", ["WidthDivisor"] = "4",
        ["QuickEpochs"] = "1", ["Epochs"] = "2", ["FeatureChannels"] = "2", ["WorstCount"] = "2", ["OverlayCount"] = "2",
    };

    static string[] Notebooks()
    {
        var notebooks = Directory.GetFiles(Repository.Path("notebooks"), "0*.ipynb").Order().ToArray();
        Assert.Equal(["01-data", "02-encoder", "03-decoder", "04-training", "05-evaluation"], notebooks.Select(Path.GetFileNameWithoutExtension));
        return notebooks;
    }

    /// <summary>
    /// The five notebooks run through <c>seg notebook run</c> (the kernel hosted in-process) and, cell by cell, through the
    /// kernel tool itself over its stdio protocol (as a Jupyter front end submits them), with the same tiny parameters:
    /// both succeed, and every cell's outputs carry the same MIME types in both.
    /// </summary>
    [Fact]
    public void All_five_notebooks_run_in_seg_and_in_the_kernel_tool_with_the_same_outputs()
    {
        using var dir = new TempDir();
        var notebooks = Notebooks();

        var (exit, stdout, stderr) = Seg.Run(["notebook", "run", .. notebooks, "--out", dir["out"], "-p", $"Artifacts={dir["artifacts"]}",
            .. Tiny.SelectMany(p => new[] { "-p", $"{p.Key}={p.Value}" })]);

        Assert.True(exit == 0, stdout + stderr);
        Assert.DoesNotContain("NNPACK", stdout + stderr); // the main job runs these notebooks the same way
        var seg = new Dictionary<string, List<string>>();
        foreach (var name in notebooks.Select(Path.GetFileNameWithoutExtension).OfType<string>())
        {
            string executed = dir[$"out/{name}.ipynb"];
            AssertValid(executed);
            var cells = Cells(executed);
            var code = cells.Where(c => c!["cell_type"]!.GetValue<string>() == "code").ToList();
            Assert.All(code, c => Assert.NotNull(c!["execution_count"]));
            Assert.DoesNotContain(cells.SelectMany(c => c!["outputs"]?.AsArray() ?? []), o => o!["output_type"]!.GetValue<string>() == "error");
            Assert.True(File.Exists(dir[$"out/{name}.html"]));
            seg[name] = [.. code.Where(c => !(c!["metadata"]?["tags"]?.AsArray().Any(t => t!.GetValue<string>() == "injected-parameters") ?? false))
                .Select(c => MimeTypes((c!["outputs"]?.AsArray() ?? []).SelectMany(o => o!["data"]?.AsObject().Select(d => d.Key + Plotly(Text(d.Value))) ?? [])))];
        }
        string All(string name) => string.Join(" ", seg[name]);
        Assert.Contains("image/png", All("01-data"));
        Assert.Contains("text/html:plotly", All("01-data"));
        Assert.Contains("image/png", All("02-encoder"));
        Assert.Contains("text/html:plotly", All("04-training"));
        Assert.Contains("text/html:plotly", All("05-evaluation"));
        foreach (var name in new[] { "01-data", "04-training", "05-evaluation" })
        {
            // Offline charts: plotly.js itself is an output above the first chart, once, in the notebook and in its report.
            var outputs = Cells(dir[$"out/{name}.ipynb"]).SelectMany(c => c!["outputs"]?.AsArray() ?? []).Select(o => o!.ToJsonString()).ToList();
            int script = outputs.FindIndex(o => o.Contains(SegHelpers.Notebooks.Figure.OfflineMarker, StringComparison.Ordinal));
            int chart = outputs.FindIndex(o => o.Contains("Plotly.newPlot", StringComparison.Ordinal) && !o.Contains(SegHelpers.Notebooks.Figure.OfflineMarker, StringComparison.Ordinal));
            Assert.True(script >= 0 && script < chart, $"{name}: plotly.js at output {script}, first chart at {chart}");
            Assert.Single(outputs, o => o.Contains(SegHelpers.Notebooks.Figure.OfflineMarker, StringComparison.Ordinal));
            string report = File.ReadAllText(dir[$"out/{name}.html"]);
            Assert.Equal(1, report.Split(SegHelpers.Notebooks.Figure.OfflineMarker).Length - 1);
            Assert.Contains("Plotly.newPlot", report);
        }
        Assert.True(File.Exists(dir["artifacts/run/best.safetensors"]));
        Assert.True(File.Exists(dir["artifacts/eval/metrics.json"]));
        Assert.Equal(Directory.GetFiles(dir["artifacts/data/testing/image_2"]).Length, Directory.GetFiles(dir["artifacts/submission"], "*_road_*.png").Length);
        Assert.Contains($"{Directory.GetFiles(dir["artifacts/submission"]).Length} submission maps", File.ReadAllText(dir["out/05-evaluation.ipynb"]));
        Assert.Equal(2, Directory.GetFiles(dir["artifacts/overlays"]).Length);

        // The same notebooks, unmodified, in the kernel tool: fresh artifacts, so that nothing is reused from the run above.
        var values = new Dictionary<string, string>(Tiny) { ["Artifacts"] = dir["tool-artifacts"] };
        var kernelErrors = new System.Text.StringBuilder();
        foreach (var path in notebooks)
        {
            string name = Path.GetFileNameWithoutExtension(path);
            var notebook = SegNotebooks.NotebookFile.Load(path);
            using var kernel = DotNetInteractive.Start(Path.GetDirectoryName(path)!, kernelErrors);
            var tool = new List<string>();
            foreach (var cell in notebook.Elements.Where(SegNotebooks.NotebookFile.IsCode))
            {
                var (ok, mimeTypes, error) = kernel.Submit(cell.Contents);
                Assert.True(ok, $"{name}: the kernel failed on\n{cell.Contents}\n{error}");
                tool.Add(MimeTypes(mimeTypes));
                if (SegNotebooks.NotebookParameters.IsParameters(cell))
                {
                    string injected = SegNotebooks.NotebookParameters.Assignments(cell.Contents, values, out _);
                    (ok, _, error) = kernel.Submit(injected);
                    Assert.True(ok, $"{name}: parameters {injected}: {error}");
                }
            }
            Assert.Equal(tool, seg[name]);
        }
        Assert.True(File.Exists(dir["tool-artifacts/run/best.safetensors"]));
        Assert.DoesNotContain("NNPACK", kernelErrors.ToString());
    }

    /// <summary>A cell's outputs as the sorted distinct MIME types they carry (an updated output counts once).</summary>
    static string MimeTypes(IEnumerable<string> types) => string.Join(",", types.Distinct().Order(StringComparer.Ordinal));

    static string Plotly(string content) => content.Contains("Plotly.newPlot", StringComparison.Ordinal) ? ":plotly" : "";
}
