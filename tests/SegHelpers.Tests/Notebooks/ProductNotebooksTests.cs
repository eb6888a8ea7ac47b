using SegHelpers.Tests.Cli;
using SegHelpers.Tests.Data;
using static SegHelpers.Tests.Notebooks.NotebookFiles;

namespace SegHelpers.Tests.Notebooks;

/// <summary>The five notebooks in notebooks/ run headless top to bottom, with tiny parameters, the way CI must see them.</summary>
public class ProductNotebooksTests
{
    static string NotebookFolder()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "notebooks", "01-data.ipynb")))
                return Path.Combine(dir.FullName, "notebooks");
        throw new DirectoryNotFoundException("notebooks/ not found above the test binaries");
    }

    [Fact]
    public void All_five_notebooks_run_top_to_bottom_and_show_their_charts_and_images()
    {
        using var dir = new TempDir();
        var notebooks = Directory.GetFiles(NotebookFolder(), "0*.ipynb").Order().ToArray();
        Assert.Equal(["01-data", "02-encoder", "03-decoder", "04-training", "05-evaluation"], notebooks.Select(Path.GetFileNameWithoutExtension));

        var (exit, stdout, stderr) = Seg.Run(["notebook", "run", .. notebooks, "--out", dir["out"], "-p", $"Artifacts={dir["artifacts"]}",
            "-p", "SyntheticCount=15", "-p", "ShowCount=2", "-p", "Height=64", "-p", "Width=192", "-p", "WidthDivisor=16",
            "-p", "QuickEpochs=1", "-p", "Epochs=2", "-p", "FeatureChannels=2", "-p", "WorstCount=2", "-p", "OverlayCount=2"]);

        Assert.True(exit == 0, stdout + stderr);
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
}
