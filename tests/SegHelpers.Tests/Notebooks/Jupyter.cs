using System.Diagnostics;

namespace SegHelpers.Tests.Notebooks;

/// <summary>
/// Jupyter as its users run it: Debian's <c>jupyter-nbconvert</c> (installed by test.sh) executing notebooks with the
/// .NET Interactive kernel tool over the Jupyter protocol, the kernel spec registered by the tool itself in a data folder
/// of the test's own. Nothing here skips: where Jupyter is missing the test fails and says what to install.
/// </summary>
static class Jupyter
{
    public const string NbConvert = "/usr/bin/jupyter-nbconvert";

    /// <summary>The kernel's own front-end bootstrap: a hidden script it adds to the first cell it runs under Jupyter.</summary>
    public const string KernelBootstrapMarker = "dotnet-interactive-this-cell-";

    /// <summary>A Jupyter data folder under <paramref name="folder"/> holding the kernel spec <c>dotnet-interactive jupyter install</c> writes.</summary>
    public static IReadOnlyDictionary<string, string> Environment(string folder)
    {
        string tool = DotNetInteractive.Install();
        string data = Path.Combine(folder, "jupyter-data");
        var environment = new Dictionary<string, string>
        {
            ["JUPYTER_PATH"] = data,
            ["JUPYTER_RUNTIME_DIR"] = Path.Combine(folder, "jupyter-runtime"),
            ["JUPYTER_CONFIG_DIR"] = Path.Combine(folder, "jupyter-config"),
            // The spec as the tool writes it starts "dotnet interactive": the dotnet host finds the tool on PATH.
            // (environment/setup.sh names the tool by its path in the spec instead, since Jupyter's PATH lacks that folder.)
            ["PATH"] = Path.GetDirectoryName(tool) + ":" + System.Environment.GetEnvironmentVariable("PATH"),
        };
        Directory.CreateDirectory(Path.Combine(data, "kernels"));
        var (exit, output) = Run(tool, ["jupyter", "install", "--path", Path.Combine(data, "kernels")], environment, folder, TimeSpan.FromMinutes(2));
        string spec = Path.Combine(data, "kernels", ".net-csharp", "kernel.json");
        Assert.True(exit == 0 && File.Exists(spec), $"dotnet-interactive jupyter install: {output}");
        // As environment/setup.sh writes it on SageMaker: the kernel runs on jemalloc where it is installed.
        var kernel = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(spec))!.AsObject();
        var env = kernel["env"] as System.Text.Json.Nodes.JsonObject ?? [];
        foreach (var (name, value) in SegHelpers.Native.FastAllocator.ChildEnvironment())
            env[name] = value;
        kernel["env"] = env;
        File.WriteAllText(spec, kernel.ToJsonString());
        return environment;
    }

    /// <summary>
    /// The product notebooks <paramref name="names"/> with <paramref name="values"/> injected papermill-style (a cell tagged
    /// <c>injected-parameters</c> after the <c>parameters</c> cell) in <paramref name="root"/>/notebooks, beside a link
    /// <paramref name="root"/>/src to the repository's src/ so that their <c>#r "../src/…"</c> lines find the build; their
    /// artifacts go to <paramref name="root"/>/artifacts, the default. Call <see cref="Unlink"/> before the folder is deleted.
    /// </summary>
    public static string[] Workspace(string root, IEnumerable<string> names, IReadOnlyDictionary<string, string> values)
    {
        Directory.CreateDirectory(Path.Combine(root, "notebooks"));
        Directory.CreateSymbolicLink(Path.Combine(root, "src"), Repository.Path("src"));
        var paths = new List<string>();
        foreach (string name in names)
        {
            var notebook = SegNotebooks.NotebookFile.Load(Repository.Path($"notebooks/{name}.ipynb"));
            var declared = SegNotebooks.NotebookParameters.Declarations(notebook);
            Assert.Empty(SegNotebooks.NotebookParameters.Inject(notebook, values.Where(p => declared.ContainsKey(p.Key)).ToDictionary()));
            string path = Path.Combine(root, "notebooks", name + ".ipynb");
            SegNotebooks.NotebookFile.Save(notebook, path);
            paths.Add(path);
        }
        return [.. paths];
    }

    /// <summary>Removes the link <see cref="Workspace"/> made, so that deleting the folder cannot reach the repository.</summary>
    public static void Unlink(string root) => File.Delete(Path.Combine(root, "src"));

    /// <summary>Executes each notebook with nbconvert (its folder as the kernel's working directory) into <paramref name="outputFolder"/>.</summary>
    public static void Execute(IReadOnlyList<string> notebooks, string outputFolder, IReadOnlyDictionary<string, string> environment)
    {
        Assert.True(File.Exists(NbConvert), $"{NbConvert} is missing: apt-get install jupyter-nbconvert (test.sh does this as root); this test executes notebooks through it");
        var (exit, output) = Run(NbConvert,
            ["--to", "notebook", "--execute", "--ExecutePreprocessor.timeout=900", "--ExecutePreprocessor.startup_timeout=180", "--output-dir", outputFolder, .. notebooks],
            environment, outputFolder, TimeSpan.FromMinutes(20));
        Assert.True(exit == 0, $"jupyter-nbconvert --execute failed ({exit}):\n{output}");
    }

    static (int Exit, string Output) Run(string file, IEnumerable<string> arguments, IReadOnlyDictionary<string, string> environment, string directory, TimeSpan limit)
    {
        Directory.CreateDirectory(directory);
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = directory };
        foreach (string a in arguments)
            start.ArgumentList.Add(a);
        foreach (var (name, value) in environment)
            start.Environment[name] = value;
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(limit))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} {string.Join(' ', arguments)} ran for more than {limit}");
        }
        return (process.ExitCode, stdout.Result + stderr.Result);
    }
}
