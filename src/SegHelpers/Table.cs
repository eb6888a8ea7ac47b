using System.Globalization;
using System.Net;
using System.Text;
using SegHelpers.Data;
using SegHelpers.Evaluation;

namespace SegHelpers;

/// <summary>
/// A table of text cells, built once and shown as aligned text by the command line and as HTML by the notebooks. The first
/// column is the row's name.
/// </summary>
/// <param name="Header">Column titles.</param>
/// <param name="Rows">Cells, one array per row, as many as <paramref name="Header"/>.</param>
public sealed record Table(IReadOnlyList<string> Header, IReadOnlyList<IReadOnlyList<string>> Rows)
{
    /// <summary>The KITTI benchmark figures per category, in percent as the KITTI site shows them.</summary>
    public static Table Benchmark(IEnumerable<BenchmarkScores> scores) => new(
        ["category", "images", "MaxF", "AP", "PRE", "REC", "FPR", "FNR", "thresh"],
        [.. scores.Select(s => (IReadOnlyList<string>)[s.Category, Number(s.Images), Percent(s.MaxF), Percent(s.AveragePrecision), Percent(s.Precision),
            Percent(s.Recall), Percent(s.FalsePositiveRate), Percent(s.FalseNegativeRate), s.BestThreshold.ToString("F3", CultureInfo.InvariantCulture)])]);

    /// <summary>Labelled pairs and class balance per category, and over all of them.</summary>
    public static Table Dataset(DatasetReport report) => new(
        ["category", "pairs", "road", "non-road", "don't-care"],
        [.. report.Categories.Append(report.All).Select(c => (IReadOnlyList<string>)[c.Name, Number(c.Pairs),
            c.Road.ToString("P1", CultureInfo.InvariantCulture), c.NonRoad.ToString("P1", CultureInfo.InvariantCulture), c.DontCare.ToString("P1", CultureInfo.InvariantCulture)])]);

    /// <summary>Columns padded to their widest cell: the name column left-aligned, the others right-aligned.</summary>
    public string ToText()
    {
        var widths = Header.Select((h, i) => Rows.Select(r => r[i].Length).Append(h.Length).Max()).ToArray();
        var text = new StringBuilder();
        foreach (var row in Rows.Prepend(Header))
            text.AppendLine(string.Join(" ", row.Select((cell, i) => i == 0 ? cell.PadRight(widths[i]) : cell.PadLeft(widths[i]))).TrimEnd());
        return text.ToString();
    }

    /// <summary>An HTML table, the name column as row headers.</summary>
    public string ToHtml() =>
        "<table><tr>" + string.Concat(Header.Select(h => $"<th>{WebUtility.HtmlEncode(h)}</th>")) + "</tr>" +
        string.Concat(Rows.Select(r => "<tr>" + string.Concat(r.Select((cell, i) => i == 0 ? $"<th>{WebUtility.HtmlEncode(cell)}</th>" : $"<td>{WebUtility.HtmlEncode(cell)}</td>")) + "</tr>")) +
        "</table>";

    static string Number(int value) => value.ToString(CultureInfo.InvariantCulture);

    static string Percent(double fraction) => (100 * fraction).ToString("F2", CultureInfo.InvariantCulture);
}
