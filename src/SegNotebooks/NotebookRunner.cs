using System.Diagnostics;
using SegHelpers;

namespace SegNotebooks;

/// <summary>Where and how to run notebooks.</summary>
/// <param name="OutputFolder">Receives <c>NAME.ipynb</c> (executed) and <c>NAME.html</c> for each notebook.</param>
/// <param name="Parameters">Papermill-style values for the <c>parameters</c> cell.</param>
/// <param name="Log">Progress lines (cell by cell); null for none.</param>
public sealed record NotebookRunOptions(string OutputFolder, IReadOnlyDictionary<string, string>? Parameters = null, TextWriter? Log = null);

/// <summary>What running one notebook did.</summary>
/// <param name="Notebook">The source notebook.</param>
/// <param name="Executed">The executed copy.</param>
/// <param name="Report">The HTML report.</param>
/// <param name="FailedCell">Index (in the executed notebook) of the cell that failed; null when all ran.</param>
/// <param name="Error">Why it failed.</param>
/// <param name="Duration">Wall time.</param>
/// <param name="IgnoredParameters">Parameters the notebook's parameters cell does not declare.</param>
public sealed record NotebookRunResult(string Notebook, string Executed, string Report, int? FailedCell, string? Error, TimeSpan Duration, IReadOnlyList<string> IgnoredParameters)
{
    /// <summary>Every cell ran.</summary>
    public bool Succeeded => FailedCell is null;
}

/// <summary>
/// Runs a notebook top to bottom the way <c>papermill</c> / <c>nbconvert --execute</c> would, in a fresh
/// <see cref="HostedKernel"/> (the real .NET Interactive C# kernel) whose working directory is the notebook's folder, like a
/// Jupyter kernel. Stops at the first failing cell; the executed notebook (outputs and execution counts filled, later
/// cells cleared) and the HTML report are written in every case.
/// </summary>
public static class NotebookRunner
{
    /// <summary>Runs <paramref name="path"/>.</summary>
    public static NotebookRunResult Run(string path, NotebookRunOptions options)
    {
        var clock = Stopwatch.StartNew();
        string source = System.IO.Path.GetFullPath(path);
        var notebook = NotebookFile.Load(source);
        var ignored = NotebookParameters.Inject(notebook, options.Parameters ?? new Dictionary<string, string>());
        string name = System.IO.Path.GetFileNameWithoutExtension(path);
        string folder = System.IO.Path.GetFullPath(options.OutputFolder);
        string executed = System.IO.Path.Combine(folder, name + ".ipynb");
        string report = System.IO.Path.Combine(folder, name + ".html");
        if (string.Equals(executed, source, StringComparison.Ordinal))
            throw new BadInputException(folder, "is the notebook's own folder", "pass another --out so the source notebook is not overwritten");

        if (ignored.Count > 0)
            options.Log?.WriteLine($"[{name}] not in its parameters cell, so not injected: {string.Join(", ", ignored)}");
        string previousDirectory = Environment.CurrentDirectory;
        Environment.CurrentDirectory = System.IO.Path.GetDirectoryName(source)!;
        int? failed = null;
        string? error = null;
        try
        {
            using var kernel = new HostedKernel();
            var cells = notebook.Elements;
            int count = 0;
            foreach (var cell in cells)
            {
                cell.Outputs.Clear();
                cell.ExecutionOrder = 0;
            }
            for (int i = 0; i < cells.Count && failed is null; i++)
            {
                if (!NotebookFile.IsCode(cells[i]))
                    continue;
                cells[i].ExecutionOrder = ++count;
                options.Log?.WriteLine($"[{name}] cell {i} ({count})");
                var cellClock = Stopwatch.StartNew();
                var run = kernel.Run(cells[i], count);
                options.Log?.WriteLine($"[{name}] cell {i} {(run.Succeeded ? "ok" : "FAILED")} in {cellClock.Elapsed.TotalSeconds:F1}s");
                if (!run.Succeeded)
                    (failed, error) = (i, $"cell {i} (execution {count}): {run.Error}{BuildHint(run.Error)}");
            }
        }
        finally
        {
            Environment.CurrentDirectory = previousDirectory;
        }
        notebook.Metadata["seg_executor"] = new Dictionary<string, object?>
        {
            ["source"] = source,
            ["parameters"] = (options.Parameters ?? new Dictionary<string, string>()).ToDictionary(p => p.Key, p => (object?)p.Value),
            ["duration_seconds"] = Math.Round(clock.Elapsed.TotalSeconds, 2),
            ["failed_cell"] = failed,
            ["error"] = error,
        };
        Directory.CreateDirectory(folder);
        NotebookFile.Save(notebook, executed);
        AtomicFile.WriteText(report, NotebookReport.Html(notebook, name));
        return new NotebookRunResult(source, executed, report, failed, error, clock.Elapsed, ignored);
    }

    /// <summary>What to do when a <c>#r</c> names an assembly that is not there (CS0006): the notebooks reference the repository's build.</summary>
    static string BuildHint(string? error) =>
        error is not null && error.Contains("CS0006", StringComparison.Ordinal)
            ? " (a #r'd assembly is missing: build first, with 'dotnet build -c Release' in the repository, or environment/setup.sh on SageMaker)"
            : "";
}
