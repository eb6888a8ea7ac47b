using System.CommandLine;
using SegHelpers.Native;
using SegNotebooks;

namespace SegCli.Commands;

/// <summary><c>seg notebook run</c>: execute .NET Interactive C# notebooks headless, papermill-style.</summary>
static class NotebookCommand
{
    public static Command Create()
    {
        var notebooks = new Argument<string[]>("NOTEBOOK") { Description = "Notebooks to run, in order (each in a fresh kernel).", Arity = ArgumentArity.OneOrMore };
        var output = new Option<string>("--out") { Description = "Folder for the executed notebooks and their HTML reports.", Required = true };
        var parameters = new Option<string[]>("--parameter", "-p") { Description = "Name=Value for the notebooks' parameters cell (repeatable).", AllowMultipleArgumentsPerToken = false };
        var keepGoing = new Option<bool>("--keep-going") { Description = "Run the remaining notebooks after one fails." };
        var run = new Command("run", "Run notebooks top to bottom: executed .ipynb and .html per notebook; exit 1 at the first failing cell.")
        {
            notebooks, output, parameters, keepGoing,
        };
        run.SetAction(parse => Cli.Run(() =>
        {
            TorchNative.EnsureLoadable();
            var paths = parse.GetValue(notebooks)!;
            var values = Cli.NotebookParameters(parse.GetValue(parameters) ?? [], paths);
            var options = new NotebookRunOptions(parse.GetValue(output)!, values, Console.Error);
            int exit = 0;
            foreach (var notebook in paths)
            {
                var result = NotebookRunner.Run(notebook, options);
                Console.WriteLine(result.Succeeded
                    ? $"{notebook}: ok in {result.Duration.TotalSeconds:F0}s → {result.Executed}, {result.Report}"
                    : $"{notebook}: FAILED at {result.Error} → {result.Executed}, {result.Report}");
                if (!result.Succeeded)
                {
                    exit = 1;
                    if (!parse.GetValue(keepGoing))
                        break;
                }
            }
            return exit;
        }));
        return new Command("notebook", "Notebook tools.") { run };
    }
}
