using System.Globalization;
using SegHelpers.Data;
using SegHelpers.Evaluation;
using SegHelpers.Tests.Downloads;

namespace SegHelpers.Tests.Evaluation;

/// <summary>
/// The bird's-eye view checked against the devkit's definition, computed here independently: a road point (x, 0, z) is
/// taken to the camera by solving Tr_cam_to_road's rotation with Cramer's rule, rectified with R0, projected with P2;
/// the cell at (row, col) has its centre at x = −10 + (col + ½)·0.05, z = 46 − (row + ½)·0.05 (float32); it takes the
/// pixel (⌊v⌋ − 1, ⌊u⌋ − 1) when 1 ≤ u ≤ width, 1 ≤ v ≤ height, else it is 0.
/// </summary>
public class BirdsEyeViewTests
{
    static string RealCalibration(string split) => Path.Combine(KittiSampleFactAttribute.Folder, split, "calib", "um_000000.txt");

    /// <summary>A made-up but KITTI-like calibration for 1242-pixel-wide images (times <paramref name="scale"/>): camera 1.6 m above a road plane tilted by a few milliradians.</summary>
    static KittiCalibration Tilted(string path, double scale = 1)
    {
        double a = 0.012, b = -0.007;
        double[] p = [700 * scale, 0, 600 * scale, 40, 0, 700 * scale, 180 * scale, 0.2, 0, 0, 1, 0.003];
        double[] rotation = [1, 0, b, 0, Math.Cos(a), -Math.Sin(a), -b, Math.Sin(a), Math.Cos(a)];
        return KittiCalibration.Create(path, new Dictionary<string, double[]>
        {
            ["P0"] = p, ["P1"] = p, ["P2"] = p, ["P3"] = p,
            ["R0_rect"] = [0.99999, 0.004, -0.002, -0.004, 0.99999, 0.001, 0.002, -0.001, 0.99999],
            ["Tr_velo_to_cam"] = [0, -1, 0, 0, 0, 0, -1, -0.08, 1, 0, 0, -0.27],
            ["Tr_imu_to_velo"] = [1, 0, 0, -0.8, 0, 1, 0, 0.3, 0, 0, 1, -0.8],
            ["Tr_cam_to_road"] = [rotation[0], rotation[1], rotation[2], 0.01, rotation[3], rotation[4], rotation[5], -1.6, rotation[6], rotation[7], rotation[8], 0.28],
        });
    }

    static (double U, double V) Project(KittiCalibration c, double x, double z)
    {
        var t = c["Tr_cam_to_road"];
        var r = new double[3, 3];
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 3; j++)
                r[i, j] = t[4 * i + j];
        double[] rhs = [x - t[3], 0 - t[7], z - t[11]];
        double det = Det(r);
        var cam = new double[3];
        for (int k = 0; k < 3; k++)
        {
            var m = (double[,])r.Clone();
            for (int i = 0; i < 3; i++)
                m[i, k] = rhs[i];
            cam[k] = Det(m) / det;
        }
        var r0 = c["R0_rect"];
        var rect = new double[4];
        for (int i = 0; i < 3; i++)
            rect[i] = r0[3 * i] * cam[0] + r0[3 * i + 1] * cam[1] + r0[3 * i + 2] * cam[2];
        rect[3] = 1;
        var p = c["P2"];
        var image = new double[3];
        for (int i = 0; i < 3; i++)
            image[i] = p[4 * i] * rect[0] + p[4 * i + 1] * rect[1] + p[4 * i + 2] * rect[2] + p[4 * i + 3] * rect[3];
        return (image[0] / image[2], image[1] / image[2]);
    }

    static double Det(double[,] m) =>
        m[0, 0] * (m[1, 1] * m[2, 2] - m[1, 2] * m[2, 1]) - m[0, 1] * (m[1, 0] * m[2, 2] - m[1, 2] * m[2, 0]) + m[0, 2] * (m[1, 0] * m[2, 1] - m[1, 1] * m[2, 0]);

    static (double X, double Z) Centre(int row, int col) =>
        ((float)(-10 + (col + 0.5) * 0.05), (float)(46 - (row + 0.5) * 0.05));

    /// <summary>An image whose every pixel names its own position, never all-zero: R = x mod 256, G = y mod 256, B = 128 + high bits.</summary>
    static RgbImage PositionImage(int width, int height)
    {
        var pixels = new byte[width * height * 3];
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
            {
                int i = 3 * (y * width + x);
                (pixels[i], pixels[i + 1], pixels[i + 2]) = ((byte)(x & 255), (byte)(y & 255), (byte)(128 | (x >> 8) | ((y >> 8) << 4)));
            }
        return new RgbImage(width, height, pixels);
    }

    static (int X, int Y)? Position(RgbImage image, int column, int row)
    {
        var (r, g, b) = image[column, row];
        return b == 0 ? null : (r | ((b & 15) << 8), g | (((b >> 4) & 7) << 8));
    }

    /// <summary>Every cell against the definition; only cells whose projection lies within 1e-6 px of a pixel border may differ.</summary>
    static void MatchesTheDefinition(KittiCalibration calibration, int width, int height)
    {
        var bev = BirdsEyeView.For(calibration, width, height);
        var mapped = bev.Map(PositionImage(width, height));
        Assert.Equal((BirdsEyeView.Width, BirdsEyeView.Height), (mapped.Width, mapped.Height));
        int seen = 0, ties = 0, differ = 0;
        for (int row = 0; row < BirdsEyeView.Height; row++)
            for (int col = 0; col < BirdsEyeView.Width; col++)
            {
                var (x, z) = Centre(row, col);
                var (u, v) = Project(calibration, x, z);
                (int, int)? expected = u >= 1 && v >= 1 && u <= width && v <= height ? ((int)Math.Floor(u) - 1, (int)Math.Floor(v) - 1) : null;
                bool tie = Math.Abs(u - Math.Round(u)) < 1e-6 || Math.Abs(v - Math.Round(v)) < 1e-6;
                if (expected is not null)
                    seen++;
                if (tie)
                    ties++;
                if (Position(mapped, col, row) != expected)
                {
                    Assert.True(tie, $"cell ({row}, {col}) at x={x}, z={z} projects to u={u}, v={v}: expected {expected}, got {Position(mapped, col, row)}");
                    differ++;
                }
                Assert.Equal(bev.Source(row, col), Position(mapped, col, row));
            }
        if (differ == 0)
            Assert.Equal(seen, bev.SeenCells);
        Assert.True(seen > BirdsEyeView.Width * BirdsEyeView.Height / 10, $"only {seen} cells are seen");
        Assert.True(differ <= ties);
    }

    [Fact]
    public void Every_cell_takes_the_pixel_the_definition_gives_for_a_tilted_road_plane()
    {
        using var dir = new TempDir();
        MatchesTheDefinition(Tilted(dir["calib.txt"]), 1242, 375);
        MatchesTheDefinition(Tilted(dir["calib.txt"]), 1226, 370);
    }

    [KittiSampleFact]
    public void Every_cell_takes_the_pixel_the_definition_gives_on_the_real_calibrations()
    {
        foreach (string split in new[] { "training", "testing" })
        {
            var calibration = KittiCalibration.Read(RealCalibration(split));
            var (width, height) = ImageFile.ReadSize(Path.Combine(KittiSampleFactAttribute.Folder, split, "image_2", "um_000000.png"));
            MatchesTheDefinition(calibration, width, height);
        }
    }

    [KittiSampleFact]
    public void Points_on_the_real_road_plane_project_where_the_calibration_puts_them()
    {
        var calibration = KittiCalibration.Read(RealCalibration("training"));
        var h = calibration.RoadToImage();
        foreach (var (x, z) in new[] { (0.0, 20.0), (-5.0, 10.0), (7.5, 40.0), (0.0, 6.0) })
        {
            var (u, v) = Project(calibration, x, z);
            double w = h[2, 0] * x + h[2, 1] * z + h[2, 2];
            Assert.Equal(u, (h[0, 0] * x + h[0, 1] * z + h[0, 2]) / w, 6);
            Assert.Equal(v, (h[1, 0] * x + h[1, 1] * z + h[1, 2]) / w, 6);
        }
        // The camera is about 1.6 m above the road and pitched a little towards it, so a point straight ahead lies below the principal point by about f·1.7/z.
        var (_, ahead) = Project(calibration, 0, 20);
        Assert.InRange(ahead - 172.854, 721.5377 * 1.5 / 20, 721.5377 * 1.9 / 20);
    }

    [Fact]
    public void The_far_end_is_at_the_top_and_left_is_left()
    {
        using var dir = new TempDir();
        var bev = BirdsEyeView.For(Tilted(dir["calib.txt"]), 1242, 375);
        int? previous = null;
        for (int row = BirdsEyeView.Height - 1; row >= 0; row--)
            if (bev.Source(row, BirdsEyeView.Width / 2) is { } s)
            {
                Assert.True(previous is null || s.Y <= previous, $"row {row} takes image row {s.Y}, below the nearer row's {previous}");
                previous = s.Y;
            }
        Assert.NotNull(previous);
        Assert.True(bev.Source(BirdsEyeView.Height - 20, BirdsEyeView.Width / 2)!.Value.Y > 300, "the nearest cells come from the bottom of the image");
        var near = Enumerable.Range(0, BirdsEyeView.Width).Select(c => bev.Source(BirdsEyeView.Height - 40, c)).OfType<(int X, int Y)>().Select(s => s.X).ToList();
        Assert.Equal(near.Order(), near);
        Assert.True(near[0] < 100 && near[^1] > 1142, $"the near row spans image columns {near[0]}…{near[^1]}");
        Assert.Null(bev.Source(BirdsEyeView.Height - 1, 0)); // 10 m to the left at 6 m is outside a 1242-pixel image
    }

    [Fact]
    public void Probability_maps_stay_8_bit_and_labels_keep_their_colours()
    {
        using var dir = new TempDir();
        var bev = BirdsEyeView.For(Tilted(dir["calib.txt"], 120 / 1242.0), 120, 40);
        var values = Enumerable.Range(0, 120 * 40).Select(i => (byte)(1 + i % 250)).ToArray();
        var map = bev.Map(new RoadProbability(120, 40, values));
        Assert.Equal(BirdsEyeView.Width * BirdsEyeView.Height, map.Values.Length);
        Assert.Equal(BirdsEyeView.Width * BirdsEyeView.Height - bev.SeenCells, map.Values.Count(v => v == 0));

        var label = new byte[120 * 40 * 3];
        for (int i = 0; i < 120 * 40; i++)
            (label[3 * i], label[3 * i + 2]) = i % 120 < 60 ? ((byte)255, (byte)255) : ((byte)255, (byte)0);
        var labelBev = bev.Map(new RgbImage(120, 40, label));
        var decoded = RoadLabel.Decode(labelBev, "bev");
        Assert.Equal(bev.SeenCells, decoded.Count(c => c != RoadLabel.Ignore));
        Assert.Contains(RoadLabel.Road, decoded);
        Assert.Contains(RoadLabel.NonRoad, decoded);
    }

    [Fact]
    public void Calibration_files_are_found_by_the_devkits_names()
    {
        using var dir = new TempDir();
        Tilted(dir["um_000000.txt"]).Write();
        Tilted(dir["uu_000012.txt"]).Write();
        Assert.Equal(dir["um_000000.txt"], KittiCalibration.Find(dir.Path, "um_road_000000.png"));
        Assert.Equal(dir["um_000000.txt"], KittiCalibration.Find(dir.Path, "um_lane_000000.png"));
        Assert.Equal(dir["um_000000.txt"], KittiCalibration.Find(dir.Path, "um_000000.png"));
        Assert.Equal(dir["uu_000012.txt"], KittiCalibration.Find(dir.Path, "uu_road_000012.png"));
        Assert.Null(KittiCalibration.Find(dir.Path, "umm_road_000000.png"));
    }

    [Fact]
    public void A_written_calibration_reads_back_to_the_same_numbers()
    {
        using var dir = new TempDir();
        var written = Tilted(dir["um_000003.txt"]);
        written.Write();
        var read = KittiCalibration.Read(dir["um_000003.txt"]);
        foreach (string key in KittiCalibration.Keys.Keys)
            for (int i = 0; i < written[key].Count; i++)
                Assert.True(Math.Abs(written[key][i] - read[key][i]) <= 1e-12 * Math.Max(1, Math.Abs(written[key][i])), $"{key}[{i}]: {written[key][i]} read back as {read[key][i]}");
        Assert.Equal(8, File.ReadAllLines(dir["um_000003.txt"]).Length);
    }

    [Theory]
    [InlineData("P2: 1 2 3\nR0_rect: 1 0 0 0 1 0 0 0 1\nTr_cam_to_road: 1 0 0 0 0 1 0 0 0 0 1 0\n", "P2 has 3 numbers, not 12")]
    [InlineData("P2: 1 0 0 0 0 1 0 0 0 0 1 0\nTr_cam_to_road: 1 0 0 0 0 1 0 0 0 0 1 0\n", "has no R0_rect line")]
    [InlineData("P2: 1 0 0 0 0 1 0 0 0 0 1 0\nR0_rect: 1 0 0 0 1 0 0 0 x\nTr_cam_to_road: 1 0 0 0 0 1 0 0 0 0 1 0\n", "R0_rect holds 'x'")]
    [InlineData("P2 1 0 0 0 0 1 0 0 0 0 1 0\n", "line 1 is not 'KEY: numbers'")]
    public void A_broken_calibration_file_names_itself_and_the_key(string text, string problem)
    {
        using var dir = new TempDir();
        File.WriteAllText(dir["um_000001.txt"], text);
        var e = Assert.Throws<BadInputException>(() => KittiCalibration.Read(dir["um_000001.txt"]));
        Assert.Equal(dir["um_000001.txt"], e.Path);
        Assert.Contains(problem, e.Message);
    }

    [Fact]
    public void A_missing_calibration_file_says_where_KITTI_keeps_them()
    {
        using var dir = new TempDir();
        var e = Assert.Throws<BadInputException>(() => KittiCalibration.Read(dir["um_000009.txt"]));
        Assert.Contains("calib", e.Fix);
        Assert.Equal(dir["um_000009.txt"], e.Path);
    }

    [KittiSampleFact]
    public void The_real_files_read_with_every_key()
    {
        var c = KittiCalibration.Read(RealCalibration("testing"));
        foreach (var (key, count) in KittiCalibration.Keys)
            Assert.Equal(count, c[key].Count);
        Assert.Equal(721.5377, c["P2"][0]);
        Assert.Equal(double.Parse("-1.562198078590e+00", CultureInfo.InvariantCulture), c["Tr_cam_to_road"][7]);
    }
}
