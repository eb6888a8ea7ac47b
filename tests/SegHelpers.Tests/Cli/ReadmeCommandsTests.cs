using System.Text.RegularExpressions;

namespace SegHelpers.Tests.Cli;

/// <summary>
/// The <c>seg</c> commands the README names, read from its code blocks and inline code, against each command's own
/// <c>--help</c>; and the environment variables docs/performance.md sets for bench/compare.sh against the script.
/// </summary>
public partial class ReadmeCommandsTests
{
    [GeneratedRegex(@"(?m)^\s+(-[a-zA-Z0-9?-]+(?:, -[a-zA-Z0-9?-]+)*)")]
    private static partial Regex HelpOption();

    [GeneratedRegex(@"(?ms)^```[a-z]*\n(.*?)^```")]
    private static partial Regex CodeBlock();

    [GeneratedRegex(@"`(seg [^`]+)`")]
    private static partial Regex InlineSeg();

    [GeneratedRegex(@"^\s+(\S+)\s", RegexOptions.Multiline)]
    private static partial Regex HelpCommand();

    /// <summary>Every <c>seg …</c> invocation in <paramref name="markdown"/>: code lines (comments cut, <c>dotnet run … --</c> as <c>seg</c>) and inline code.</summary>
    static IEnumerable<string> Invocations(string markdown)
    {
        foreach (Match block in CodeBlock().Matches(markdown))
            foreach (string raw in block.Groups[1].Value.Split('\n'))
            {
                string line = Regex.Replace(raw, @"\s+#\s.*$", "").Trim();
                line = line.Replace("dotnet run --project src/SegCli -c Release --no-build --", "seg", StringComparison.Ordinal)
                           .Replace("dotnet run --project src/SegCli -c Release --", "seg", StringComparison.Ordinal);
                if (line.StartsWith("seg ", StringComparison.Ordinal))
                    yield return line;
            }
        foreach (Match inline in InlineSeg().Matches(markdown))
            yield return inline.Groups[1].Value;
    }

    static readonly Dictionary<string, (IReadOnlySet<string> Options, IReadOnlySet<string> Commands)> Helps = [];

    static (IReadOnlySet<string> Options, IReadOnlySet<string> Commands) Help(string path)
    {
        lock (Helps)
        {
            if (Helps.TryGetValue(path, out var known))
                return known;
            var (exit, help, err) = Seg.Run([.. path.Split(' ', StringSplitOptions.RemoveEmptyEntries), "--help"]);
            Assert.True(exit == 0, $"seg {path} --help: {err}");
            int commands = help.IndexOf("\nCommands:", StringComparison.Ordinal);
            int options = help.IndexOf("\nOptions:", StringComparison.Ordinal);
            string optionPart = options < 0 ? "" : help[options..(commands > options ? commands : help.Length)];
            var names = HelpOption().Matches(optionPart).SelectMany(m => m.Groups[1].Value.Split(", ")).ToHashSet();
            var subcommands = commands < 0 ? [] : HelpCommand().Matches(help[commands..]).Select(m => m.Groups[1].Value).ToHashSet();
            return Helps[path] = (names, subcommands);
        }
    }

    /// <summary>The command path and options of one invocation, with each option checked against that command's help.</summary>
    static IEnumerable<string> Problems(string invocation, string where)
    {
        var tokens = Regex.Matches(invocation, "\"[^\"]*\"|'[^']*'|\\S+").Select(m => m.Value).ToList();
        string path = "";
        int i = 1;
        while (i < tokens.Count && Help(path).Commands.Contains(tokens[i]))
            path = (path + " " + tokens[i++]).Trim();
        if (path.Length == 0)
        {
            if (i < tokens.Count && tokens[i] != "…" && !tokens[i].StartsWith('-'))
                yield return $"{where}: `{invocation}`: seg has no command '{tokens[i]}'";
            yield break;
        }
        var options = Help(path).Options;
        foreach (string token in tokens.Skip(i).Where(t => t.StartsWith('-') && t != "-" && t != "--"))
        {
            string option = token.Split('=')[0].TrimEnd(',', ';', ')', '.');
            if (!options.Contains(option))
                yield return $"{where}: `{invocation}`: seg {path} has no option {option}";
        }
    }

    [Fact]
    public void Every_seg_command_and_option_the_readme_and_docs_name_is_in_that_commands_help()
    {
        var problems = new List<string>();
        int checkedCount = 0;
        foreach (string file in new[] { "README.md", "docs/reference.md", "docs/internals.md", "docs/performance.md" })
            foreach (string invocation in Invocations(File.ReadAllText(Repository.Path(file))))
            {
                checkedCount++;
                problems.AddRange(Problems(invocation, file));
            }

        Assert.True(checkedCount > 30, $"only {checkedCount} seg invocations found");
        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }

    [GeneratedRegex(@"((?:[A-Z][A-Z0-9_]*=\S*\s+)+)bench/compare\.sh")]
    private static partial Regex CompareAssignments();

    [Fact]
    public void Every_variable_docs_performance_sets_for_bench_compare_is_one_the_script_reads()
    {
        string script = File.ReadAllText(Repository.Path("bench/compare.sh")) + File.ReadAllText(Repository.Path("bench/common.sh"));
        var set = CompareAssignments().Matches(File.ReadAllText(Repository.Path("docs/performance.md")))
            .SelectMany(m => Regex.Matches(m.Groups[1].Value, @"([A-Z][A-Z0-9_]*)=").Select(v => v.Groups[1].Value)).Distinct().ToList();

        Assert.NotEmpty(set);
        var unread = set.Where(name => !Regex.IsMatch(script, $@"\$\{{?{name}\b")).ToList();
        Assert.True(unread.Count == 0, $"docs/performance.md sets {string.Join(", ", unread)} for bench/compare.sh, which never reads them");
    }
}

/// <summary>The README's library example compiles against SegHelpers as it is (an API change that breaks it fails here).</summary>
public class ReadmeLibraryExampleTests
{
    [Fact]
    public void The_library_example_compiles_as_a_program()
    {
        string readme = File.ReadAllText(Repository.Path("README.md"));
        int section = readme.IndexOf("\n## The library", StringComparison.Ordinal);
        Assert.True(section >= 0, "README.md has no \"## The library\" section");
        int start = readme.IndexOf("```csharp\n", section, StringComparison.Ordinal) + "```csharp\n".Length;
        string code = readme[start..readme.IndexOf("```", start, StringComparison.Ordinal)];
        var references = ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator)
            .Select(p => Microsoft.CodeAnalysis.MetadataReference.CreateFromFile(p));

        var compilation = Microsoft.CodeAnalysis.CSharp.CSharpCompilation.Create("ReadmeExample",
            [Microsoft.CodeAnalysis.CSharp.CSharpSyntaxTree.ParseText(code),
             Microsoft.CodeAnalysis.CSharp.CSharpSyntaxTree.ParseText("global using System; global using System.IO; global using System.Linq;")], // the SDK's implicit usings
            references,
            new Microsoft.CodeAnalysis.CSharp.CSharpCompilationOptions(Microsoft.CodeAnalysis.OutputKind.ConsoleApplication));
        var errors = compilation.GetDiagnostics().Where(d => d.Severity == Microsoft.CodeAnalysis.DiagnosticSeverity.Error).ToList();

        Assert.Contains("RoadPredictor.Load", code);
        Assert.True(errors.Count == 0, string.Join("\n", errors));
    }
}
