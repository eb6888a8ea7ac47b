using System.Globalization;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.DotNet.Interactive.Documents;

namespace SegNotebooks;

/// <summary>
/// Papermill-style parameters: the values go into a new cell tagged <c>injected-parameters</c> right after the cell
/// tagged <c>parameters</c>, as assignments to the variables that cell declares. A value is written as a literal of
/// the declared type (string, bool, numbers; <c>var</c> takes the initializer's type); for any other type the value is
/// taken as a C# expression.
/// </summary>
public static class NotebookParameters
{
    /// <summary>The tag of the cell holding every knob.</summary>
    public const string Tag = "parameters";

    /// <summary>The tag of the cell the executor adds.</summary>
    public const string InjectedTag = "injected-parameters";

    /// <summary>
    /// Adds the injected cell for the values the parameters cell declares and returns the names it does not declare
    /// (papermill also lets a shared parameter set pass over notebooks that do not use every value).
    /// </summary>
    public static IReadOnlyList<string> Inject(InteractiveDocument notebook, IReadOnlyDictionary<string, string> values)
    {
        if (values.Count == 0)
            return [];
        int index = notebook.Elements.ToList().FindIndex(IsParameters);
        if (index < 0)
            return [.. values.Keys];
        var code = Assignments(notebook.Elements[index].Contents, values, out var ignored);
        if (code.Length > 0)
            notebook.Elements.Insert(index + 1, new InteractiveDocumentElement(code, "csharp")
            {
                Id = NotebookFile.NewId(),
                Metadata = new Dictionary<string, object>
                {
                    ["dotnet_interactive"] = new Dictionary<string, object> { ["language"] = "csharp" },
                    ["polyglot_notebook"] = new Dictionary<string, object> { ["kernelName"] = "csharp" },
                    ["tags"] = new object[] { InjectedTag },
                },
            });
        return ignored;
    }

    /// <summary>
    /// The injected cell's code: one assignment per value that <paramref name="parametersSource"/> declares, written as
    /// a literal of the declared type; empty when it declares none of them. <paramref name="ignored"/> lists the rest.
    /// </summary>
    public static string Assignments(string parametersSource, IReadOnlyDictionary<string, string> values, out IReadOnlyList<string> ignored)
    {
        var declared = Declarations(parametersSource);
        var lines = new List<string>();
        var skipped = new List<string>();
        foreach (var (name, value) in values)
        {
            if (declared.TryGetValue(name, out var type))
                lines.Add($"{name} = {Literal(name, type, value)};");
            else
                skipped.Add(name);
        }
        ignored = skipped;
        return lines.Count == 0 ? "" : string.Join("\n", ["// Parameters injected by seg notebook run", .. lines]);
    }

    /// <summary>The variables the notebook's parameters cell declares (none without such a cell).</summary>
    public static IReadOnlyDictionary<string, string> Declarations(InteractiveDocument notebook) =>
        notebook.Elements.FirstOrDefault(IsParameters) is { } cell ? Declarations(cell.Contents) : new Dictionary<string, string>();

    /// <summary>Whether <paramref name="cell"/> is the code cell tagged <see cref="Tag"/>.</summary>
    public static bool IsParameters(InteractiveDocumentElement cell) => NotebookFile.IsCode(cell) && NotebookFile.Tags(cell).Contains(Tag);

    /// <summary>Variable name → declared type ("string", "int", "double", "bool", … or the type's text).</summary>
    public static IReadOnlyDictionary<string, string> Declarations(string source)
    {
        var root = CSharpSyntaxTree.ParseText(source, new CSharpParseOptions(LanguageVersion.Latest, kind: SourceCodeKind.Script)).GetRoot();
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var declaration in root.DescendantNodes().OfType<VariableDeclarationSyntax>())
        {
            if (declaration.Parent is not (FieldDeclarationSyntax or LocalDeclarationStatementSyntax))
                continue;
            foreach (var variable in declaration.Variables)
            {
                string type = declaration.Type.IsVar ? Infer(variable.Initializer?.Value) : declaration.Type.ToString();
                result[variable.Identifier.Text] = type.TrimEnd('?');
            }
        }
        return result;
    }

    static string Infer(ExpressionSyntax? value) => value switch
    {
        LiteralExpressionSyntax l when l.IsKind(SyntaxKind.StringLiteralExpression) => "string",
        InterpolatedStringExpressionSyntax => "string",
        LiteralExpressionSyntax l when l.IsKind(SyntaxKind.TrueLiteralExpression) || l.IsKind(SyntaxKind.FalseLiteralExpression) => "bool",
        LiteralExpressionSyntax l when l.IsKind(SyntaxKind.NumericLiteralExpression) => l.Token.Value switch
        {
            int => "int",
            long => "long",
            float => "float",
            _ => "double",
        },
        _ => "expression",
    };

    static string Literal(string name, string type, string value)
    {
        var invariant = CultureInfo.InvariantCulture;
        string? literal = type switch
        {
            "string" or "String" or "System.String" => SymbolDisplay.FormatLiteral(value, quote: true),
            "bool" or "Boolean" => bool.TryParse(value, out var b) ? (b ? "true" : "false") : null,
            "int" or "Int32" => int.TryParse(value, NumberStyles.Integer, invariant, out var i) ? i.ToString(invariant) : null,
            "long" or "Int64" => long.TryParse(value, NumberStyles.Integer, invariant, out var l) ? l.ToString(invariant) + "L" : null,
            "double" or "Double" => double.TryParse(value, NumberStyles.Float, invariant, out var d) ? d.ToString("R", invariant) + "d" : null,
            "float" or "Single" => float.TryParse(value, NumberStyles.Float, invariant, out var f) ? f.ToString("R", invariant) + "f" : null,
            _ => value,
        };
        return literal ?? throw new ArgumentException($"parameter {name} is declared {type}; '{value}' is not a {type}");
    }
}
