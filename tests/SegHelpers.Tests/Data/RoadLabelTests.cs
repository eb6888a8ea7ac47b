using SegHelpers.Data;

namespace SegHelpers.Tests.Data;

public class RoadLabelTests
{
    static RgbImage Row(params (byte R, byte G, byte B)[] colours) =>
        new(colours.Length, 1, colours.SelectMany(c => new[] { c.R, c.G, c.B }).ToArray());

    [Fact]
    public void Decodes_the_devkit_colours_road_where_blue_and_evaluated_where_red()
    {
        var mask = RoadLabel.Decode(Row(Kitti.Magenta, Kitti.Red, Kitti.Black, Kitti.Blue), "gt.png");

        Assert.Equal(new[] { RoadLabel.Road, RoadLabel.NonRoad, RoadLabel.Ignore, RoadLabel.Ignore }, mask);
    }

    [Fact]
    public void Encode_then_decode_is_the_identity()
    {
        byte[] mask = [RoadLabel.Road, RoadLabel.NonRoad, RoadLabel.Ignore, RoadLabel.Road, RoadLabel.NonRoad, RoadLabel.Ignore];

        var image = RoadLabel.Encode(3, 2, mask);

        Assert.Equal(mask, RoadLabel.Decode(image, "gt.png"));
        Assert.Equal(Kitti.Magenta, image[0, 0]);
        Assert.Equal(Kitti.Red, image[1, 0]);
        Assert.Equal(Kitti.Black, image[2, 0]);
    }

    [Theory]
    [InlineData(255, 255, 255)]
    [InlineData(254, 0, 254)]
    [InlineData(255, 0, 128)]
    [InlineData(0, 255, 0)]
    public void Colours_outside_the_kitti_set_are_rejected_naming_file_and_pixel(byte r, byte g, byte b)
    {
        var error = Assert.Throws<BadInputException>(() => RoadLabel.Decode(Row(Kitti.Magenta, Kitti.Red, (r, g, b)), "/d/um_road_000001.png"));

        Assert.Equal("/d/um_road_000001.png", error.Path);
        Assert.Contains($"({r},{g},{b}) at x=2, y=0", error.Message);
        Assert.Contains("magenta", error.Fix);
    }
}
