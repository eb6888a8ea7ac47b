using SegHelpers.Data;
using SegHelpers.Evaluation;

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
            var (image, label, _, _) = SyntheticRoads.Render(seed, (RoadCategory)(seed % 3), 200, 64);
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

    [Fact]
    public void Every_scene_has_a_calibration_file_beside_its_image()
    {
        using var dir = new TempDir();
        Kitti.Synthetic(dir, count: 6, testCount: 2);
        foreach (string split in new[] { "training", "testing" })
        {
            var images = Directory.GetFiles(dir[$"{split}/image_2"]).Select(f => Path.GetFileNameWithoutExtension(f)).Order().ToList();
            var calibs = Directory.GetFiles(dir[$"{split}/calib"]).Select(f => Path.GetFileNameWithoutExtension(f)).Order().ToList();
            Assert.Equal(images, calibs);
            foreach (string name in calibs)
                Assert.Equal(SyntheticRoads.CameraHeight, -KittiCalibration.Read(dir[$"{split}/calib/{name}.txt"])["Tr_cam_to_road"][7], 9);
        }
    }

    /// <summary>
    /// Through the scene's own calibration file, the road must come out in the bird's-eye view as a band of the width the
    /// scene was drawn with, at every depth: a wrong horizon, focal length or principal point makes it a wedge, too wide
    /// or too narrow. Rows count where the whole road crossing is seen (non-road cells on both sides, no don't-care). Vehicles
    /// standing on the road hide part of it (a vehicle becomes a long streak in the bird's-eye view), so a row may be narrower
    /// than the road, never wider, and many rows near and far must have the full width.
    /// </summary>
    [Theory]
    [InlineData(RoadCategory.Um, 1242, 375)]
    [InlineData(RoadCategory.Umm, 1226, 370)]
    [InlineData(RoadCategory.Uu, 620, 188)]
    public void The_road_is_a_band_of_its_width_in_the_birds_eye_view(RoadCategory category, int width, int height)
    {
        using var dir = new TempDir();
        var rows = new List<(double Z, double Measured, double Expected)>();
        double focal = 0;
        for (int seed = 1; seed < 40; seed += 5)
        {
            var scene = SyntheticRoads.Render(seed, category, width, height);
            focal = scene.Calibration["P2"][0];
            var view = BirdsEyeView.For(KittiCalibration.Create(dir["calib.txt"], scene.Calibration), width, height);
            var bev = RoadLabel.Decode(view.Map(scene.Label), "bev");
            for (int row = 0; row < BirdsEyeView.Height; row++)
            {
                var cells = bev.AsSpan(row * BirdsEyeView.Width, BirdsEyeView.Width);
                int first = cells.IndexOfAnyExcept(RoadLabel.Ignore), last = cells.LastIndexOfAnyExcept(RoadLabel.Ignore);
                if (first < 0 || cells[first] != RoadLabel.NonRoad || cells[last] != RoadLabel.NonRoad || cells[first..last].Contains(RoadLabel.Ignore))
                    continue;
                int firstRoad = cells.IndexOf(RoadLabel.Road), lastRoad = cells.LastIndexOf(RoadLabel.Road);
                if (firstRoad < 0)
                    continue;
                double z = 46 - (row + 0.5) * 0.05;
                rows.Add((z, (lastRoad - firstRoad + 1) * 0.05, scene.RoadWidthAt(z)));
            }
        }
        // a cell and a pixel at each edge: the grid is 0.05 m, a pixel at depth z is z / f metres wide
        double Slack(double z) => 2 * 0.05 + 2 * z / focal;
        foreach (var (z, measured, expected) in rows)
            Assert.True(measured <= expected + Slack(z), $"at z = {z:F2} m the road is {measured:F2} m wide in the bird's-eye view, wider than the {expected:F2} m drawn");
        bool Full((double Z, double Measured, double Expected) r) => Math.Abs(r.Measured - r.Expected) <= Slack(r.Z);
        int near = rows.Count(r => r.Z < 20 && Full(r)), far = rows.Count(r => r.Z > 26 && Full(r));
        Assert.True(near >= 100 && far >= 30, $"rows with the road's full width: {near} nearer than 20 m, {far} beyond 26 m, of {rows.Count}");
        foreach (int z in new[] { 6, 16, 26, 36, 46 })
            Assert.InRange(SyntheticRoads.Render(1, category, width, height).RoadWidthAt(z), 3, 14);
    }
}
