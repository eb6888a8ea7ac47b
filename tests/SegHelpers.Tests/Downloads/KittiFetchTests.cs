using System.IO.Compression;
using SegHelpers.Data;
using SegHelpers.Tests.Cli;

namespace SegHelpers.Tests.Downloads;

/// <summary>A fact that runs only where the real KITTI sample is beside the repository (../shared/kitti-sample), and says so otherwise.</summary>
sealed class KittiSampleFactAttribute : FactAttribute
{
    public static string Folder { get; } = Path.GetFullPath(Repository.Path("../shared/kitti-sample/data_road"));

    public KittiSampleFactAttribute()
    {
        if (!Directory.Exists(Folder))
            Skip = $"the real KITTI Road sample is not at {Folder} (see shared/kitti-sample/README.md); this test needs it";
    }
}

/// <summary>A theory that runs only where the real KITTI sample is, as <see cref="KittiSampleFactAttribute"/>.</summary>
sealed class KittiSampleTheoryAttribute : TheoryAttribute
{
    public KittiSampleTheoryAttribute()
    {
        if (!Directory.Exists(KittiSampleFactAttribute.Folder))
            Skip = $"the real KITTI Road sample is not at {KittiSampleFactAttribute.Folder} (see shared/kitti-sample/README.md); this test needs it";
    }
}

public class KittiFetchTests
{
    /// <summary>A data_road.zip laid out as KITTI ships it, from a folder holding data_road/.</summary>
    static byte[] Zip(string folderWithDataRoad)
    {
        using var buffer = new MemoryStream();
        using (var zip = new ZipArchive(buffer, ZipArchiveMode.Create, leaveOpen: true))
            foreach (string file in Directory.EnumerateFiles(Path.Combine(folderWithDataRoad, "data_road"), "*", SearchOption.AllDirectories))
                zip.CreateEntryFromFile(file, Path.GetRelativePath(folderWithDataRoad, file).Replace('\\', '/'), CompressionLevel.Fastest);
        return buffer.ToArray();
    }

    static byte[] Synthetic(TempDir dir)
    {
        SyntheticRoads.Write(dir["kit/data_road"], new SyntheticOptions(6, 1, 2, 48, 160));
        return Zip(dir["kit"]);
    }

    [Fact]
    public void Fetch_kitti_downloads_extracts_checks_and_prints_the_licence_and_citation()
    {
        using var server = new LoopbackServer();
        using var dir = new TempDir();
        server.Serve("data_road.zip", new Served(Synthetic(dir), CutAfter: 50_000));

        var (exit, stdout, stderr) = Seg.Run("fetch", "kitti", "--out", dir["out"], "--url", server.Url("data_road.zip").ToString());
        var again = Seg.Run("fetch", "kitti", "--out", dir["out"], "--url", server.Url("data_road.zip").ToString());

        Assert.True(exit == 0, stderr);
        Assert.Contains($"{dir["out/data_road"]}: 6 labelled pairs, 2 test images (the real kit has 289 and 290)", stdout);
        var lines = stdout.Split('\n').Select(l => l.TrimEnd('\r')).ToList();
        Assert.Contains(lines, l => l.StartsWith("licence: ", StringComparison.Ordinal) && l.Contains("CC BY-NC-SA 3.0"));
        Assert.Contains("cite: J. Fritsch, T. Kühnl and A. Geiger, \"A New Performance Measure and Evaluation Benchmark for Road Detection Algorithms\", " +
                        "International Conference on Intelligent Transportation Systems (ITSC), 2013.", lines);
        Assert.Contains("calibration: 6/6 training, 2/2 testing: the bird's-eye view (seg eval --bev, the submission) works for every image", stdout);
        Assert.Equal(6, Directory.GetFiles(dir["out/data_road/training/gt_image_2"]).Length);
        Assert.Equal(2, server.Requests("data_road.zip")); // the drop, then the resumed rest
        Assert.Equal(0, again.Exit);
        Assert.Equal(2, server.Requests("data_road.zip")); // already there: checked, not fetched
        Assert.Empty(Directory.GetDirectories(dir["out"], ".data_road.*"));
    }

    [Fact]
    public void A_corrupt_zip_is_deleted_and_nothing_looks_extracted()
    {
        using var server = new LoopbackServer();
        using var dir = new TempDir();
        var bytes = Synthetic(dir);
        bytes.AsSpan(bytes.Length - 200).Clear(); // the central directory
        server.Serve("data_road.zip", new Served(bytes));

        var (exit, _, stderr) = Seg.Run("fetch", "kitti", "--out", dir["out"], "--url", server.Url("data_road.zip").ToString());

        Assert.Equal(2, exit);
        Assert.Contains("is not a readable zip", stderr);
        Assert.False(File.Exists(dir["out/data_road.zip"]));
        Assert.False(Directory.Exists(dir["out/data_road"]));
    }

    [Fact]
    public void A_zip_entry_that_climbs_out_of_the_folder_is_refused_before_anything_is_written()
    {
        using var dir = new TempDir();
        string zip = dir["data_road.zip"];
        using (var archive = ZipFile.Open(zip, ZipArchiveMode.Create))
        {
            foreach (string name in new[] { "data_road/training/gt_image_2/um_road_000000.png", "data_road/../../escaped.txt" })
                using (var entry = archive.CreateEntry(name).Open())
                    entry.WriteByte(1);
        }
        Directory.CreateDirectory(dir["out"]);

        var error = Assert.Throws<BadInputException>(() => KittiRoadDownload.Extract(zip, dir["out"]));

        Assert.Contains("data_road/../../escaped.txt", error.Message);
        Assert.False(File.Exists(dir["escaped.txt"]));
        Assert.Empty(Directory.EnumerateFileSystemEntries(dir["out"]));
    }

    [Fact]
    public void A_zip_without_labels_is_refused()
    {
        using var dir = new TempDir();
        string zip = dir["data_road.zip"];
        using (var archive = ZipFile.Open(zip, ZipArchiveMode.Create))
            using (var entry = archive.CreateEntry("data_road/training/image_2/um_000000.png").Open())
                entry.WriteByte(1);
        Directory.CreateDirectory(dir["out"]);

        var error = Assert.Throws<BadInputException>(() => KittiRoadDownload.Extract(zip, dir["out"]));

        Assert.Contains("has no training labels", error.Message);
        Assert.Empty(Directory.EnumerateFileSystemEntries(dir["out"]));
    }

    [KittiSampleFact]
    public void The_real_kitti_sample_zipped_as_kitti_ships_it_fetches_and_checks()
    {
        using var server = new LoopbackServer();
        using var dir = new TempDir();
        server.Serve("data_road.zip", new Served(Zip(Path.GetDirectoryName(KittiSampleFactAttribute.Folder)!)));

        var report = KittiRoadDownload.Fetch(dir.Path, server.Url("data_road.zip"));

        Assert.Equal((30, 5), (report.TrainingPairs, report.TestImages));
        Assert.True(report.Usable, string.Join("; ", report.Problems));
        Assert.Equal(["1226x370", "1238x374", "1241x376", "1242x375"], report.ImageSizes.Keys.Order(StringComparer.Ordinal));
        // the sample holds the real calibration of um_000000 only, in training and in testing
        Assert.Equal((1, 1, 33), (report.Calibration.Training, report.Calibration.Testing, report.Calibration.Missing.Count));
        Assert.DoesNotContain("um_000000.png", report.Calibration.Missing);
    }
}
