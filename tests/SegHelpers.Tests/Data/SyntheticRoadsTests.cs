using SegHelpers.Data;

namespace SegHelpers.Tests.Data;

public class SyntheticRoadsTests
{
    static Dictionary<string, byte[]> Files(string root) =>
        Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories)
            .ToDictionary(f => Path.GetRelativePath(root, f), File.ReadAllBytes);

    [Fact]
    public void Same_seed_gives_identical_files_and_another_seed_does_not()
    {
        using var a = new TempDir();
        using var b = new TempDir();
        using var c = new TempDir();
        Kitti.Synthetic(a, seed: 9);
        Kitti.Synthetic(b, seed: 9);
        Kitti.Synthetic(c, seed: 10);

        var fa = Files(a.Path);
        var fb = Files(b.Path);
        Assert.Equal(fa.Keys.Order(), fb.Keys.Order());
        Assert.All(fa, kv => Assert.Equal(kv.Value, fb[kv.Key]));
        Assert.NotEqual(fa["training/image_2/um_000000.png"], Files(c.Path)["training/image_2/um_000000.png"]);
    }

    [Fact]
    public void Writes_the_kitti_layout_that_the_reader_and_the_check_accept()
    {
        using var dir = new TempDir();
        Kitti.Synthetic(dir, count: 12, testCount: 4);

        var report = DatasetReport.Build(dir.Path);

        Assert.True(report.Usable, string.Join("\n", report.Problems));
        Assert.Equal(12, report.TrainingPairs);
        Assert.Equal(4, report.TestImages);
        Assert.Equal(["um", "umm", "uu"], report.Categories.Select(c => c.Name));
        Assert.All(report.Categories, c => Assert.Equal(4, c.Pairs));
        Assert.Equal(12, report.ImageSizes["128x40"]);
        Assert.InRange(report.All.Road, 0.1, 0.6);
        Assert.InRange(report.All.NonRoad, 0.3, 0.9);
        Assert.Equal(1.0, report.All.Road + report.All.NonRoad + report.All.DontCare, 9);
    }

    [Fact]
    public void Labels_use_kitti_colours_including_dont_care_and_road_is_not_a_colour_threshold()
    {
        int dontCare = 0, blue = 0;
        var roadGrey = new List<double>();
        var otherGrey = new List<double>();
        for (int seed = 0; seed < 12; seed++)
        {
            var (image, label) = SyntheticRoads.Render(seed, (RoadCategory)(seed % 3), 200, 64);
            RoadLabel.Decode(label, "synthetic"); // throws on any non-KITTI colour
            for (int y = 0; y < label.Height; y++)
                for (int x = 0; x < label.Width; x++)
                {
                    var c = label[x, y];
                    var (r, g, b) = image[x, y];
                    double grey = (r + g + b) / 3.0;
                    if (c == Kitti.Black) dontCare++;
                    else if (c == Kitti.Blue) blue++;
                    else if (c == Kitti.Magenta) roadGrey.Add(grey);
                    else otherGrey.Add(grey);
                }
        }

        Assert.True(dontCare > 0);
        Assert.True(blue > 0);
        // the best single brightness threshold still misclassifies many pixels
        var all = roadGrey.Select(g => (g, road: true)).Concat(otherGrey.Select(g => (g, road: false))).ToList();
        double bestAccuracy = Enumerable.Range(0, 256)
            .Max(t => all.Count(p => (p.g < t) == p.road) / (double)all.Count);
        Assert.InRange(bestAccuracy, 0.5, 0.9);
    }

    [Fact]
    public void Default_sizes_are_the_real_kitti_sizes()
    {
        var sizes = Enumerable.Range(0, 20)
            .Select(seed => SyntheticRoads.Render(seed, RoadCategory.Um).Image)
            .Select(i => (i.Width, i.Height))
            .ToHashSet();

        Assert.Subset(SyntheticRoads.KittiSizes.ToHashSet(), sizes);
        Assert.True(sizes.Count >= 2);
    }
}
