using System.Text.RegularExpressions;

namespace SegNotebooks;

/// <summary>
/// Handles the kernel directives of a C# cell before Roslyn sees it: <c>#!csharp</c> (and its aliases) is dropped,
/// <c>#!markdown</c> marks a markdown cell, <c>#r "nuget: Id, Version"</c> is checked against <see cref="PackagePins"/>,
/// <c>#i "nuget: source"</c> is noted (sources matter only to a restoring kernel), and <c>#r "path/X.dll"</c> for an
/// assembly the executor itself was started with (SegHelpers from the repository's build) uses that copy, so that one
/// assembly identity is loaded once. Removed lines become blank so that compiler line numbers still match the cell.
/// Any other <c>#r "file.dll"</c> is left to Roslyn, which resolves it from the notebook's folder.
/// </summary>
public static partial class CellDirectives
{
    /// <summary>The C# to compile, or null for a cell that is not C# (#!markdown).</summary>
    public static string? Prepare(string source, PackagePins pins)
    {
        var lines = source.Replace("\r\n", "\n").Split('\n');
        for (int i = 0; i < lines.Length; i++)
        {
            string line = lines[i].Trim();
            if (line.StartsWith("#!", StringComparison.Ordinal))
            {
                string magic = line[2..].Trim().ToLowerInvariant();
                if (magic is "csharp" or "c#" or "cs")
                    lines[i] = "";
                else if (magic == "markdown" && i == 0)
                    return null;
                else
                    throw new NotebookDirectiveException($"'{line}' is not supported by the headless executor, which runs C# cells only (#!csharp)");
            }
            else if (NuGetReference().Match(line) is { Success: true } m)
            {
                pins.Require(m.Groups["id"].Value.Trim(), m.Groups["version"].Success ? m.Groups["version"].Value.Trim() : null);
                lines[i] = "";
            }
            else if (FileReference().Match(line) is { Success: true } f && HostAssemblies.Names.Value.Contains(Path.GetFileNameWithoutExtension(f.Groups["path"].Value)))
            {
                lines[i] = "";
            }
            else if (line.StartsWith("#i ", StringComparison.Ordinal))
            {
                lines[i] = "";
            }
        }
        return string.Join('\n', lines);
    }

    [GeneratedRegex("""^#r\s+"(?<path>[^":]+\.dll)"\s*$""", RegexOptions.IgnoreCase)]
    private static partial Regex FileReference();

    [GeneratedRegex("""^#r\s+"nuget:\s*(?<id>[^,"]+)(,\s*(?<version>[^"]+))?"\s*$""")]
    private static partial Regex NuGetReference();
}
