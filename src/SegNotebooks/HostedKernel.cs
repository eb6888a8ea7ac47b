using Microsoft.DotNet.Interactive;
using Microsoft.DotNet.Interactive.Commands;
using Microsoft.DotNet.Interactive.CSharp;
using Microsoft.DotNet.Interactive.Documents;
using Microsoft.DotNet.Interactive.Events;
using Microsoft.DotNet.Interactive.PackageManagement;

namespace SegNotebooks;

/// <summary>What running one cell did.</summary>
/// <param name="Succeeded">False when it failed to compile or threw.</param>
/// <param name="Error">The kernel's description of the failure.</param>
public sealed record CellRun(bool Succeeded, string? Error);

/// <summary>
/// The .NET Interactive C# kernel itself (Microsoft.DotNet.Interactive.CSharp, the code of the kernel tool's last release)
/// hosted in this process, as the kernel tool sets it up: a composite kernel whose default is C#, with the kernel helpers
/// (<c>display</c>, <c>HTML</c>…) and <c>#r "nuget: …"</c>. Each cell is one <see cref="SubmitCode"/>; the kernel's events become the cell's
/// outputs as nbformat has them: standard output and error as streams (also echoed to this process's own, for progress),
/// displayed values as display data, the cell's value as its result, a failure as an error. An update replaces the output
/// its display id names; the kernel gives a handle's updates an id of their own, not that of the handle's first output (its
/// stdio protocol shows the same), so a handle's first update is a new output and its later ones replace that.
/// </summary>
public sealed class HostedKernel : IDisposable
{
    static readonly TextWriter EchoOut = new StreamWriter(Console.OpenStandardOutput()) { AutoFlush = true };
    static readonly TextWriter EchoError = new StreamWriter(Console.OpenStandardError()) { AutoFlush = true };

    readonly CompositeKernel _kernel;
    readonly IDisposable _subscription;
    readonly Dictionary<string, DisplayElement> _displayed = [];
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
                case ReturnValueProduced value:
                    var result = new ReturnValueElement { ExecutionOrder = _executionCount };
                    foreach (var (mime, text) in Bundle(value))
                        result.Data[mime] = text;
                    cell.Outputs.Add(result);
                    break;
                case DisplayedValueUpdated update when update.ValueId is { } id && _displayed.TryGetValue(id, out var shown):
                    shown.Data.Clear();
                    foreach (var (mime, text) in Bundle(update))
                        shown.Data[mime] = text;
                    break;
                case DisplayedValueProduced or DisplayedValueUpdated:
                    var display = (DisplayEvent)e;
                    var element = new DisplayElement(Bundle(display));
                    if (display.ValueId is { } valueId)
                        _displayed[valueId] = element;
                    cell.Outputs.Add(element);
                    break;
                case CommandFailed failed when failed.Command is SubmitCode:
                    cell.Outputs.Add(Error(failed));
                    break;
            }
        }
    }

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
