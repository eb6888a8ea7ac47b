namespace SegHelpers.Tests.Evaluation;

public class TableTests
{
    static readonly Table Small = new(["category", "images", "MaxF"], [["UM_ROAD", "3", "91.25"], ["URBAN_<ROAD>", "10", "8.50"]]);

    [Fact]
    public void Text_pads_the_name_column_left_and_the_numbers_right()
    {
        Assert.Equal(
            "category     images  MaxF\n" +
            "UM_ROAD           3 91.25\n" +
            "URBAN_<ROAD>     10  8.50\n", Small.ToText().ReplaceLineEndings("\n"));
    }

    [Fact]
    public void Html_has_one_row_per_line_with_the_names_as_headers_and_text_encoded()
    {
        string html = Small.ToHtml();
        Assert.Equal(3, html.Split("<tr>").Length - 1);
        Assert.Contains("<th>URBAN_&lt;ROAD&gt;</th><td>10</td><td>8.50</td>", html);
    }

    [Fact]
    public void The_benchmark_table_puts_each_figure_under_its_own_header()
    {
        var scores = new SegHelpers.Evaluation.BenchmarkScores("UMM_ROAD", 7, 100, 200, MaxF: 0.9111, AveragePrecision: 0.8222, Precision: 0.7333,
            Recall: 0.6444, FalsePositiveRate: 0.0555, FalseNegativeRate: 0.3556, BestThreshold: 0.4627, [], [], [], []);

        var table = Table.Benchmark([scores]);

        var cells = table.Header.Zip(table.Rows.Single()).ToDictionary(p => p.First, p => p.Second);
        Assert.Equal(new Dictionary<string, string>
        {
            ["category"] = "UMM_ROAD", ["images"] = "7", ["MaxF"] = "91.11", ["AP"] = "82.22", ["PRE"] = "73.33", ["REC"] = "64.44",
            ["FPR"] = "5.55", ["FNR"] = "35.56", ["thresh"] = "0.463",
        }, cells);
        string text = table.ToText();
        Assert.Equal(["UMM_ROAD", "7", "91.11", "82.22", "73.33", "64.44", "5.55", "35.56", "0.463"],
            text.Split('\n')[1].Split(' ', StringSplitOptions.RemoveEmptyEntries));
    }
}
