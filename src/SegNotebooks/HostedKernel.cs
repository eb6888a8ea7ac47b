using Microsoft.DotNet.Interactive;
using Microsoft.DotNet.Interactive.Commands;
using Microsoft.DotNet.Interactive.CSharp;
using Microsoft.DotNet.Interactive.Documents;
using Microsoft.DotNet.Interactive.Events;
using Microsoft.DotNet.Interactive.Formatting;
using Microsoft.DotNet.Interactive.PackageManagement;

namespace SegNotebooks;

/// <summary>What running one cell did.</summary>
/// <param name="Succeeded">False when it failed to compile or threw.</param>
/// <param name="Error">The kernel's description of the failure.</param>
public sealed record CellRun(bool Succeeded, string? Error);

/// <summary>
/// The .NET Interactive C# kernel itself (Microsoft.DotNet.Interactive.CSharp, the code of the kernel tool's last release)
/// hosted in this process, as the kernel tool sets it up: a composite kernel whose default is C#, with the kernel helpers
/// (<c>display</c>, <c>HTML</c>…) and <c>#r "nuget: …"</c>. Each cell is one <see cref="SubmitCode"/>. The kernel's events become
/// the cell's outputs exactly as the kernel tool's Jupyter layer sends them and as Jupyter front ends and nbclient apply them,
/// so that a notebook shows here what it shows in JupyterLab, no more: standard output and error, and compiler diagnostics,
/// as streams (output and error also echoed to this process's own, for progress); displayed values as display data and the
/// cell's value as its result, each with its display id (the event's value id, else a fresh one); an update only replaces the
/// outputs, in any cell, that carry its display id, and is dropped when none does (the handle <c>display(…)</c> returns updates
/// under an id of its own, so its updates are dropped, in Jupyter and here); a failure as an error.
/// </summary>
public sealed class HostedKernel : IDisposable
{
    static readonly TextWriter EchoOut = new StreamWriter(Console.OpenStandardOutput()) { AutoFlush = true };
    static readonly TextWriter EchoError = new StreamWriter(Console.OpenStandardError()) { AutoFlush = true };

    readonly CompositeKernel _kernel;
    readonly IDisposable _subscription;
    readonly Dictionary<string, List<IDictionary<string, object>>> _displayed = [];
    readonly object _gate = new();
    InteractiveDocumentElement? _cell;
    int _executionCount;

    /// <summary>A fresh kernel.</summary>
    public HostedKernel()
    {
        var csharp = new CSharpKernel()
            .UseKernelHelpers()
            .UseNugetDirective((kernel, packages) =>
            {
                kernel.AddAssemblyReferences(packages.SelectMany(p => p.AssemblyPaths));
                return Task.CompletedTask;
            }, forceRestore: false);
        _kernel = new CompositeKernel { { csharp, ["c#", "C#", "cs"] } };
        _kernel.DefaultKernelName = csharp.Name;
        _subscription = _kernel.KernelEvents.Subscribe(Record);
    }

    /// <summary>Runs <paramref name="cell"/>'s code as execution number <paramref name="executionCount"/>, filling its outputs.</summary>
    public CellRun Run(InteractiveDocumentElement cell, int executionCount)
    {
        lock (_gate)
        {
            _cell = cell;
            _executionCount = executionCount;
        }
        try
        {
            var result = _kernel.SendAsync(new SubmitCode(cell.Contents)).GetAwaiter().GetResult();
            var failure = result.Events.OfType<CommandFailed>().FirstOrDefault();
            return failure is null ? new CellRun(true, null) : new CellRun(false, FirstLines(failure.Message));
        }
        finally
        {
            lock (_gate)
                _cell = null;
        }
    }

    void Record(KernelEvent e)
    {
        lock (_gate)
        {
            if (_cell is not { } cell)
                return;
            switch (e)
            {
                case StandardOutputValueProduced output:
                    Stream(cell, "stdout", Text(output), EchoOut);
                    break;
                case StandardErrorValueProduced error:
                    Stream(cell, "stderr", Text(error), EchoError);
                    break;
                case ReturnValueProduced { Value: DisplayedValue }:
                    break; // the handle display(…) returned, as the cell's value: the Jupyter layer sends nothing for it
                case ReturnValueProduced value:
                    var result = new ReturnValueElement { ExecutionOrder = _executionCount };
                    foreach (var (mime, text) in Bundle(value))
                        result.Data[mime] = text;
                    Show(cell, result, value.ValueId);
                    break;
                case DisplayedValueProduced display:
                    Show(cell, new DisplayElement(Bundle(display)), display.ValueId);
                    break;
                case DisplayedValueUpdated update:
                    Replace(update.ValueId, Bundle(update));
                    break;
                case DiagnosticsProduced { FormattedDiagnostics.Count: > 0 } diagnostics:
                    Stream(cell, "stderr", Diagnostics(diagnostics), EchoError);
                    break;
                case CommandFailed failed when failed.Command is SubmitCode:
                    cell.Outputs.Add(Error(failed));
                    break;
            }
        }
    }

    /// <summary>A display or result: earlier outputs with its display id take its data (as nbclient does), then it is added.</summary>
    void Show(InteractiveDocumentElement cell, InteractiveDocumentOutputElement output, string? displayId)
    {
        var data = output switch { DisplayElement d => d.Data, ReturnValueElement r => r.Data, _ => throw new ArgumentOutOfRangeException(nameof(output)) };
        if (displayId is not null)
        {
            Replace(displayId, data);
            (_displayed.TryGetValue(displayId, out var shown) ? shown : _displayed[displayId] = []).Add(data);
        }
        cell.Outputs.Add(output);
    }

    void Replace(string? displayId, IDictionary<string, object> data)
    {
        if (displayId is null || !_displayed.TryGetValue(displayId, out var shown))
            return;
        foreach (var earlier in shown)
        {
            earlier.Clear();
            foreach (var (mime, text) in data)
                earlier[mime] = text;
        }
    }

    /// <summary>Compiler diagnostics as the Jupyter layer writes them to standard error.</summary>
    static string Diagnostics(DiagnosticsProduced diagnostics) =>
        "\n" + string.Join("\n\n", diagnostics.FormattedDiagnostics.Select(d => d.Value)) + "\n\n";

    static ErrorElement Error(CommandFailed failed)
    {
        string name = failed.Exception switch
        {
            CodeSubmissionCompilationErrorException => "CompilationError",
            { } exception => exception.GetType().FullName ?? exception.GetType().Name,
            null => "Error",
        };
        string value = failed.Exception is { } e and not CodeSubmissionCompilationErrorException ? e.Message : FirstLines(failed.Message);
        return new ErrorElement(value, name, failed.Message.Split('\n'));
    }

    static string FirstLines(string message) => string.Join(" ", message.Split('\n', StringSplitOptions.RemoveEmptyEntries).Take(3).Select(l => l.Trim()));

    static string Text(DisplayEvent e) => e.FormattedValues.FirstOrDefault(v => v.MimeType == "text/plain")?.Value ?? e.Value?.ToString() ?? "";

    static Dictionary<string, object> Bundle(DisplayEvent e) => e.FormattedValues.ToDictionary(v => v.MimeType, v => (object)v.Value);

    static void Stream(InteractiveDocumentElement cell, string name, string text, TextWriter echo)
    {
        if (text.Length == 0)
            return;
        echo.Write(text);
        if (cell.Outputs.Count > 0 && cell.Outputs[^1] is TextElement last && last.Name == name)
            cell.Outputs[^1] = new TextElement(last.Text + text, name);
        else
            cell.Outputs.Add(new TextElement(text, name));
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _subscription.Dispose();
        _kernel.Dispose();
    }
}
