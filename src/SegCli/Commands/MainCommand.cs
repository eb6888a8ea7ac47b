using System.CommandLine;
using SegHelpers;
using SegHelpers.Native;
using SegNotebooks;

namespace SegCli.Commands;

/// <summary>
/// <c>seg main</c>: the README's main job. Runs the five notebooks in order on the synthetic default and leaves
/// everything in the artifacts folder: data, the trained run, metrics, overlays, submission maps, and each
/// executed notebook with its HTML report.
/// </summary>
static class MainCommand
{
    public static Command Create()
    {
        var outDir = new Option<string>("--out") { Description = "Artifacts folder.", DefaultValueFactory = _ => "artifacts" };
        var notebooks = new Option<string?>("--notebooks") { Description = "Folder of the notebooks (default: the repository's notebooks/)." };
        var parameters = new Option<string[]>("--parameter", "-p") { Description = "Name=Value for the notebooks' parameters cells, e.g. -p Epochs=60." };
        var command = new Command("main", "The whole job on the synthetic default: run notebooks 01–05 (data, encoder, decoder, training, evaluation) into --out.")
        {
            outDir, notebooks, parameters,
        };
        command.SetAction(parse => Cli.Run(() =>
        {
            string artifacts = Path.GetFullPath(parse.GetValue(outDir)!);
            string folder = parse.GetValue(notebooks) ?? FindNotebooks();
            var paths = Directory.GetFiles(folder, "0*.ipynb").Order().ToList();
            if (paths.Count == 0)
                throw new BadInputException(folder, "holds no notebooks (0*.ipynb)", "run from the repository or pass --notebooks DIR");
            Console.WriteLine(TorchNative.Describe());
            TorchNative.EnsureLoadable();
            var values = Cli.NotebookParameters(parse.GetValue(parameters) ?? [], paths, [KeyValuePair.Create("Artifacts", artifacts)]);
            var options = new NotebookRunOptions(Path.Combine(artifacts, "notebooks"), values, Console.Error);
            foreach (var path in paths)
            {
                var result = NotebookRunner.Run(path, options);
                Console.WriteLine($"{Path.GetFileName(path)}: {(result.Succeeded ? "ok" : "FAILED at " + result.Error)} in {result.Duration.TotalSeconds:F0}s → {result.Report}");
                if (!result.Succeeded)
                    return 1;
            }
            Console.WriteLine($"artifacts in {artifacts}: data/, run/ (model, metrics.jsonl), eval/metrics.json, overlays/, submission/, notebooks/ (executed .ipynb and .html)");
            return 0;
        }));
        return command;
    }

    /// <summary>The repository's notebooks/ folder, found from the working directory or from where seg lives.</summary>
    static string FindNotebooks()
    {
        foreach (var start in new[] { Environment.CurrentDirectory, AppContext.BaseDirectory })
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
                if (Directory.Exists(Path.Combine(dir.FullName, "notebooks")) && File.Exists(Path.Combine(dir.FullName, "notebooks", "01-data.ipynb")))
                    return Path.Combine(dir.FullName, "notebooks");
        throw new BadInputException(Environment.CurrentDirectory, "is not inside the repository (no notebooks/01-data.ipynb above it)", "run from the repository or pass --notebooks DIR");
    }
}
