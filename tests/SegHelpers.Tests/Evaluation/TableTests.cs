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
}
