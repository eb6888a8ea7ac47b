using System.IO.Compression;
using System.Text.Json;
using SegHelpers.Data;
using SegHelpers.Evaluation;
using SegHelpers.Tests.Data;

namespace SegHelpers.Tests.Cli;

/// <summary><c>seg bev</c>, <c>seg eval --bev</c> and <c>seg predict --kitti --bev</c> through the binary, on synthetic scenes and their calibration files.</summary>
public class BirdsEyeCommandsTests
{
    static string TinyCheckpoint(TempDir dir) => EvalCommandsTests.TinyCheckpoint(dir);

    static BirdsEyeView ViewOf(string calibrationFile, string image)
    {
        var (width, height) = ImageFile.ReadSize(image);
        return BirdsEyeView.For(KittiCalibration.Read(calibrationFile), width, height);
    }

    [Fact]
    public void Seg_bev_maps_each_file_in_its_kind_and_names_each_bad_one()
    {
        using var dir = new TempDir();
        string data = Kitti.Synthetic(dir, count: 3, height: 94, width: 310, testCount: 0);
        Directory.CreateDirectory(dir["in"]);
        foreach (string file in Directory.GetFiles(dir["training/gt_image_2"]))
            File.Copy(file, Path.Combine(dir["in"], Path.GetFileName(file)));
        var gray = Enumerable.Range(0, 94 * 310).Select(i => (byte)(i % 251)).ToArray();
        ImageFile.WriteGrayPng(dir["in/umm_road_000000.png"], 310, 94, gray); // a probability map in place of umm's label
        File.WriteAllBytes(dir["in/uu_road_000000.png"], [0x89, (byte)'P', (byte)'N', (byte)'G', 1, 2, 3]);
        Kitti.Solid(dir["in/um_road_000042.png"], 310, 94, Kitti.Magenta); // no um_000042.txt

        var (exit, stdout, stderr) = Seg.Run("bev", "--calib", Path.Combine(data, "training", "calib"), "--input", dir["in"], "--out", dir["out"]);

        Assert.Equal(2, exit);
        var errors = stderr.Split('\n').Where(l => l.StartsWith("error: ")).ToList();
        Assert.Equal(2, errors.Count);
        Assert.Contains(errors, e => e.Contains("uu_road_000000.png") && e.Contains("not a readable PNG"));
        Assert.Contains(errors, e => e.Contains("um_000042.txt") && e.Contains("um_road_000042.png"));
        Assert.Contains("wrote 2 of 4 bird's-eye views", stdout);

        string calib = Path.Combine(data, "training", "calib");
        var labelOut = ImageFile.ReadPixels(dir["out/um_road_000000.png"]);
        Assert.Equal((400, 800, 3), (labelOut.Width, labelOut.Height, labelOut.Channels));
        var label = ImageFile.ReadRgb(dir["in/um_road_000000.png"]);
        Assert.Equal(ViewOf(Path.Combine(calib, "um_000000.txt"), dir["in/um_road_000000.png"]).Map(label).Pixels, labelOut.Pixels);
        RoadLabel.Decode(new RgbImage(400, 800, labelOut.Pixels), "bev"); // KITTI colours only

        var mapOut = ImageFile.ReadPixels(dir["out/umm_road_000000.png"]);
        Assert.Equal((400, 800, 1), (mapOut.Width, mapOut.Height, mapOut.Channels));
        Assert.Equal(ViewOf(Path.Combine(calib, "umm_000000.txt"), dir["in/umm_road_000000.png"]).Map(gray, 1), mapOut.Pixels);
        Assert.False(File.Exists(dir["out/uu_road_000000.png"]));
    }

    [Fact]
    public void Eval_bev_scores_both_spaces_counting_only_the_cells_in_view()
    {
        using var dir = new TempDir();
        string data = Kitti.Synthetic(dir, count: 6, height: 94, width: 310, testCount: 0);
        var samples = KittiRoad.Open(data).Training;
        // maps that say "road" everywhere: every evaluated non-road pixel or cell is a false positive
        long positives = 0, negatives = 0, unseen = 0;
        foreach (var sample in samples)
        {
            var (image, mask) = KittiRoad.LoadPair(sample);
            ImageFile.WriteGrayPng(dir[$"probs/{sample.ResultName()}"], image.Width, image.Height, Enumerable.Repeat((byte)255, mask.Length).ToArray());
            var view = ViewOf(Path.Combine(data, "training", "calib", sample.Id + ".txt"), sample.ImagePath);
            var bevMask = view.MapClasses(mask);
            unseen += BirdsEyeView.Width * BirdsEyeView.Height - view.SeenCells;
            positives += bevMask.Count(c => c == RoadLabel.Road);
            negatives += bevMask.Count(c => c == RoadLabel.NonRoad);
        }

        var (exit, stdout, stderr) = Seg.Run("eval", "--data", data, "--probs", dir["probs"], "--bev", "--json", "--out", dir["scores"]);

        Assert.True(exit == 0, stderr);
        var metrics = JsonDocument.Parse(stdout).RootElement;
        Assert.Equal("perspective", metrics.GetProperty("space").GetString());
        var bev = metrics.GetProperty("bev");
        Assert.Equal("bev", bev.GetProperty("space").GetString());
        Assert.Equal(400, bev.GetProperty("grid").GetProperty("width").GetInt32());
        var urban = bev.GetProperty("benchmark").EnumerateArray().Single(b => b.GetProperty("category").GetString() == "URBAN_ROAD");
        Assert.Equal(positives, urban.GetProperty("positives").GetInt64());
        Assert.Equal(negatives, urban.GetProperty("negatives").GetInt64());
        Assert.True(unseen > 0 && positives + negatives <= 6L * 400 * 800 - unseen, "cells outside the camera's view are not counted");
        double precision = positives / (double)(positives + negatives);
        Assert.Equal(2 * precision / (1 + precision), urban.GetProperty("max_f").GetDouble(), 6);
        Assert.Equal(positives / (double)(positives + negatives), bev.GetProperty("road_iou").GetDouble(), 6);
        var perspective = metrics.GetProperty("benchmark").EnumerateArray().Single(b => b.GetProperty("category").GetString() == "URBAN_ROAD");
        Assert.NotEqual(perspective.GetProperty("positives").GetInt64(), positives);

        var (tableExit, table, _) = Seg.Run("eval", "--data", data, "--probs", dir["probs"], "--bev", "--out", dir["scores"]);
        Assert.Equal(0, tableExit);
        Assert.Contains("perspective (the image's pixels):", table);
        Assert.Contains("bird's-eye view (0.05 m cells", table);
        Assert.Equal(2, table.Split('\n').Count(l => l.StartsWith("URBAN_ROAD ")));
    }

    [Fact]
    public void Eval_bev_names_the_images_without_calibration_before_any_work()
    {
        using var dir = new TempDir();
        string data = Kitti.Synthetic(dir, count: 3, height: 40, width: 128, testCount: 0);
        File.Delete(Path.Combine(data, "training", "calib", "uu_000000.txt"));

        var (exit, _, stderr) = Seg.Run("eval", "--data", data, "--model", TinyCheckpoint(dir), "--split", "all", "--size", "32x96", "--bev", "--out", dir["eval"]);

        Assert.Equal(2, exit);
        Assert.Contains("uu_000000.png", stderr);
        Assert.Contains("has no calibration for 1 image(s)", stderr);
        Assert.False(File.Exists(dir["eval/metrics.json"]));
    }

    [Fact]
    public void Predict_kitti_bev_writes_the_birds_eye_maps_and_the_zip_to_upload()
    {
        using var dir = new TempDir();
        string data = Kitti.Synthetic(dir, count: 0, height: 94, width: 310, testCount: 3);
        string images = Path.Combine(data, "testing", "image_2");
        string model = TinyCheckpoint(dir);

        var (plainExit, _, plainErr) = Seg.Run("predict", "--model", model, "--input", images, "--out", dir["plain"], "--kitti", "--size", "32x96");
        Assert.True(plainExit == 0, plainErr);
        Assert.Contains("add --bev", plainErr);
        Assert.False(Directory.Exists(dir["plain/bev"]));

        var (exit, stdout, stderr) = Seg.Run("predict", "--model", model, "--input", images, "--out", dir["out"], "--kitti", "--size", "32x96", "--bev");

        Assert.True(exit == 0, stderr);
        Assert.Contains("kitti-road-bev-submission.zip", stdout);
        var names = Directory.GetFiles(images).Select(f => KittiRoad.SampleOf(f).ResultName()).Order().ToList();
        Assert.Equal(3, names.Count);
        using var zip = ZipFile.OpenRead(dir["out/kitti-road-bev-submission.zip"]);
        Assert.Equal(names, zip.Entries.Select(e => e.FullName).Order());
        foreach (string name in names)
        {
            var perspective = ImageFile.ReadPixels(dir[$"out/probs/{name}"]);
            Assert.Equal(1, perspective.Channels);
            string id = name.Replace("_road_", "_");
            var expected = ViewOf(Path.Combine(data, "testing", "calib", Path.ChangeExtension(id, ".txt")), dir[$"out/probs/{name}"]).Map(perspective.Pixels, 1);
            var bev = ImageFile.ReadPixels(dir[$"out/bev/{name}"]);
            Assert.Equal((400, 800, 1), (bev.Width, bev.Height, bev.Channels));
            Assert.Equal(expected, bev.Pixels);
            Assert.True(bev.Pixels.Distinct().Count() > 5, "the maps carry the model's probabilities");
            using var entry = new MemoryStream();
            using (var stream = zip.GetEntry(name)!.Open())
                stream.CopyTo(entry);
            Assert.Equal(File.ReadAllBytes(dir[$"out/bev/{name}"]), entry.ToArray());
        }
    }

    [Fact]
    public void Predict_bev_needs_kitti_names_and_every_calibration()
    {
        using var dir = new TempDir();
        string data = Kitti.Synthetic(dir, count: 0, height: 40, width: 128, testCount: 3);
        string images = Path.Combine(data, "testing", "image_2");
        string model = TinyCheckpoint(dir);

        var (noKitti, _, noKittiErr) = Seg.Run("predict", "--model", model, "--input", images, "--out", dir["a"], "--bev");
        Assert.Equal(2, noKitti);
        Assert.Contains("add --kitti", noKittiErr);

        File.Delete(Path.Combine(data, "testing", "calib", "umm_000000.txt"));
        var (missing, _, missingErr) = Seg.Run("predict", "--model", model, "--input", images, "--out", dir["b"], "--kitti", "--bev", Path.Combine(data, "testing", "calib"));
        Assert.Equal(2, missing);
        Assert.Contains("umm_000000.png", missingErr);
        Assert.False(Directory.Exists(dir["b/probs"]), "nothing is predicted before every calibration is found");
    }
}
