using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Scripting;
using Microsoft.CodeAnalysis.Scripting;

namespace SegNotebooks;

/// <summary>What running one cell did.</summary>
/// <param name="Succeeded">False when it failed to compile or threw.</param>
/// <param name="Error">The error's one-line description.</param>
public sealed record CellRun(bool Succeeded, string? Error);

/// <summary>
/// A C# scripting session like the .NET Interactive C# kernel: each cell is a submission continuing the previous
/// one's state; <c>display</c> and <c>HTML</c> are callable bare; stdout and stderr become stream outputs; the value of
/// a cell's last expression becomes its result. References every assembly the host was started with, so whatever the
/// host ships (SegHelpers, TorchSharp, Plotly.NET…) can be used after its <c>#r "nuget: …"</c>.
/// </summary>
public sealed class CSharpKernel
{
    /// <summary>The .NET Interactive C# kernel's default usings (System.IO is not among them).</summary>
    static readonly string[] DefaultImports =
        ["System", "System.Text", "System.Collections", "System.Collections.Generic", "System.Threading.Tasks", "System.Linq"];

    static readonly Lazy<MetadataReference[]> HostReferences = new(() =>
        [.. HostAssemblies.Paths.Value.Select(p => (MetadataReference)MetadataReference.CreateFromFile(p))]);

    readonly KernelGlobals _globals = new();
    readonly ScriptOptions _options;
    readonly PackagePins _pins;
    ScriptState<object>? _state;

    /// <summary>A fresh session whose relative paths (<c>#r "x.dll"</c>, <c>#load</c>) start at <paramref name="baseDirectory"/>.</summary>
    public CSharpKernel(string baseDirectory, PackagePins? pins = null)
    {
        _pins = pins ?? PackagePins.FromHost();
        _options = ScriptOptions.Default
            .WithReferences(HostReferences.Value)
            .WithImports(DefaultImports)
            .WithMetadataResolver(ScriptMetadataResolver.Default.WithBaseDirectory(baseDirectory))
            .WithSourceResolver(ScriptSourceResolver.Default.WithBaseDirectory(baseDirectory))
            .WithLanguageVersion(LanguageVersion.Latest)
            .WithOptimizationLevel(OptimizationLevel.Release)
            .WithAllowUnsafe(true);
    }

    /// <summary>Runs one cell's source, writing its outputs to <paramref name="outputs"/>.</summary>
    public CellRun Run(string source, CellOutputs outputs, int executionCount)
    {
        var stdout = new CellWriter("stdout", Console.Out) { Target = outputs };
        var stderr = new CellWriter("stderr", Console.Error) { Target = outputs };
        var (previousOut, previousError) = (Console.Out, Console.Error);
        Console.SetOut(TextWriter.Synchronized(stdout));
        Console.SetError(TextWriter.Synchronized(stderr));
        _globals.Outputs = outputs;
        try
        {
            string? code = CellDirectives.Prepare(source, _pins);
            if (code is null || code.Trim().Length == 0)
                return new CellRun(true, null);
            _state = _state is null
                ? CSharpScript.RunAsync(code, _options, _globals, typeof(KernelGlobals)).GetAwaiter().GetResult()
                : _state.ContinueWithAsync(code, _options).GetAwaiter().GetResult();
            if (_state.ReturnValue is { } value && HasTrailingExpression(code))
                outputs.Result(MimeFormatter.Format(value), executionCount);
            return new CellRun(true, null);
        }
        catch (CompilationErrorException e)
        {
            var errors = e.Diagnostics.Where(d => d.Severity == DiagnosticSeverity.Error).Select(d => d.ToString()).ToList();
            outputs.Error("CompilationError", errors.FirstOrDefault() ?? e.Message, errors);
            return new CellRun(false, $"does not compile: {string.Join("; ", errors.Take(3))}");
        }
        catch (NotebookDirectiveException e)
        {
            outputs.Error("DirectiveError", e.Message, [e.Message]);
            return new CellRun(false, e.Message);
        }
        catch (Exception e)
        {
            var inner = e is System.Reflection.TargetInvocationException { InnerException: { } i } ? i : e;
            outputs.Error(inner.GetType().FullName ?? inner.GetType().Name, inner.Message, inner.ToString().Split('\n'));
            return new CellRun(false, $"threw {inner.GetType().Name}: {inner.Message}");
        }
        finally
        {
            _globals.Outputs = null;
            Console.Out.Flush();
            Console.SetOut(previousOut);
            Console.SetError(previousError);
        }
    }

    /// <summary>True when the cell ends in an expression without a semicolon, the kernel's rule for showing a value.</summary>
    static bool HasTrailingExpression(string code)
    {
        var root = CSharpSyntaxTree.ParseText(code, new CSharpParseOptions(LanguageVersion.Latest, kind: SourceCodeKind.Script)).GetRoot();
        var last = root.ChildNodes().LastOrDefault();
        return last is Microsoft.CodeAnalysis.CSharp.Syntax.GlobalStatementSyntax { Statement: Microsoft.CodeAnalysis.CSharp.Syntax.ExpressionStatementSyntax statement }
               && statement.SemicolonToken.IsMissing;
    }
}
