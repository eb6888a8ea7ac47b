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

    [Fact]
    public void All_five_notebooks_run_top_to_bottom_and_show_their_charts_and_images()
    {
        using var dir = new TempDir();
        var notebooks = Notebooks();

        var (exit, stdout, stderr) = Seg.Run(["notebook", "run", .. notebooks, "--out", dir["out"], "-p", $"Artifacts={dir["artifacts"]}",
            .. Tiny.SelectMany(p => new[] { "-p", $"{p.Key}={p.Value}" })]);

        Assert.True(exit == 0, stdout + stderr);
        Assert.DoesNotContain("NNPACK", stdout + stderr); // the main job runs these notebooks the same way
        foreach (var name in notebooks.Select(Path.GetFileNameWithoutExtension))
        {
            string executed = dir[$"out/{name}.ipynb"];
            AssertValid(executed);
            var cells = Cells(executed);
            Assert.All(cells.Where(c => c!["cell_type"]!.GetValue<string>() == "code"), c => Assert.NotNull(c!["execution_count"]));
            Assert.DoesNotContain(cells.SelectMany(c => c!["outputs"]?.AsArray() ?? []), o => o!["output_type"]!.GetValue<string>() == "error");
            Assert.True(File.Exists(dir[$"out/{name}.html"]));
        }
        string MimeTypes(string name) => string.Join(" ", Cells(dir[$"out/{name}.ipynb"]).SelectMany(c => c!["outputs"]?.AsArray() ?? [])
            .SelectMany(o => o!["data"]?.AsObject().Select(d => d.Key + (d.Value!.GetValue<string>().Contains("Plotly.newPlot") ? ":plotly" : "")) ?? []));
        Assert.Contains("image/png", MimeTypes("01-data"));
        Assert.Contains("text/html:plotly", MimeTypes("01-data"));
        Assert.Contains("image/png", MimeTypes("02-encoder"));
        Assert.Contains("text/html:plotly", MimeTypes("04-training"));
        Assert.Contains("text/html:plotly", MimeTypes("05-evaluation"));
        Assert.Contains("Plotly.newPlot", File.ReadAllText(dir["out/05-evaluation.html"]));
        Assert.True(File.Exists(dir["artifacts/run/best.safetensors"]));
        Assert.True(File.Exists(dir["artifacts/eval/metrics.json"]));
        Assert.Equal(Directory.GetFiles(dir["artifacts/data/testing/image_2"]).Length, Directory.GetFiles(dir["artifacts/submission"], "*_road_*.png").Length);
        Assert.Contains($"{Directory.GetFiles(dir["artifacts/submission"]).Length} submission maps", File.ReadAllText(dir["out/05-evaluation.ipynb"]));
        Assert.Equal(2, Directory.GetFiles(dir["artifacts/overlays"]).Length);
    }

    [Fact]
    public void All_five_notebooks_run_unmodified_in_the_real_dotnet_interactive_kernel()
    {
        using var dir = new TempDir();
        var values = new Dictionary<string, string>(Tiny) { ["Artifacts"] = dir["artifacts"] };
        var produced = new Dictionary<string, List<string>>();
        var kernelErrors = new System.Text.StringBuilder();

        foreach (var path in Notebooks())
        {
            string name = Path.GetFileNameWithoutExtension(path);
            var notebook = SegNotebooks.Notebook.Load(path);
            using var kernel = DotNetInteractive.Start(Path.GetDirectoryName(path)!, kernelErrors);
            produced[name] = [];
            foreach (var cell in notebook.Cells.Where(c => c.Type == "code"))
            {
                var (ok, mimeTypes, error) = kernel.Submit(cell.Source);
                Assert.True(ok, $"{name}: the kernel failed on\n{cell.Source}\n{error}");
                produced[name].AddRange(mimeTypes);
                if (cell.Tags.Contains(SegNotebooks.NotebookParameters.Tag))
                {
                    string injected = SegNotebooks.NotebookParameters.Assignments(cell.Source, values, out _);
                    (ok, _, error) = kernel.Submit(injected);
                    Assert.True(ok, $"{name}: parameters {injected}: {error}");
                }
            }
        }

        Assert.Contains("image/png", produced["01-data"]);
        Assert.Contains("text/html:plotly", produced["01-data"]);
        Assert.Contains("text/html", produced["01-data"]);
        Assert.Contains("image/png", produced["02-encoder"]);
        Assert.Contains("text/html:plotly", produced["04-training"]);
        Assert.Contains("text/html:plotly", produced["05-evaluation"]);
        Assert.True(File.Exists(dir["artifacts/run/best.safetensors"]));
        Assert.DoesNotContain("NNPACK", kernelErrors.ToString());
    }
}
