using System.Text.Json;
using SegHelpers.Tests.Data;

namespace SegHelpers.Tests.Cli;

public class DataCommandsTests
{
    [Fact]
    public void Synth_then_check_reports_every_pair_and_exits_zero()
    {
        using var dir = new TempDir();

        var synth = Seg.Run("synth", "--out", dir.Path, "--count", "12", "--seed", "1", "--size", "48x160");
        var check = Seg.Run("check", "--data", dir.Path);
        var json = Seg.Run("check", "--data", dir.Path, "--json");

        Assert.Equal(0, synth.Exit);
        Assert.True(check.Exit == 0, check.Err);
        Assert.Contains("12 labelled pairs", check.Out);
        Assert.Contains("usable: yes", check.Out);
        Assert.True(json.Exit == 0, json.Err);
        using var doc = JsonDocument.Parse(json.Out);
        Assert.Equal(12, doc.RootElement.GetProperty("trainingPairs").GetInt32());
        Assert.Equal(3, doc.RootElement.GetProperty("testImages").GetInt32());
        Assert.True(doc.RootElement.GetProperty("usable").GetBoolean());
        Assert.Equal(4, doc.RootElement.GetProperty("categories")[0].GetProperty("pairs").GetInt32());
    }

    [Fact]
    public void Check_lists_every_broken_file_and_exits_two()
    {
        using var dir = new TempDir();
        Kitti.Synthetic(dir, count: 6);
        File.WriteAllBytes(dir["training/image_2/um_000001.png"], [0x89, (byte)'P', (byte)'N', (byte)'G']);
        Kitti.Solid(dir["training/gt_image_2/uu_road_000000.png"], 128, 40, (10, 200, 10));

        var (exit, stdout, _) = Seg.Run("check", "--data", dir.Path);

        Assert.Equal(2, exit);
        Assert.Contains("2 problem(s)", stdout);
        Assert.Contains("um_000001.png", stdout);
        Assert.Contains("uu_road_000000.png", stdout);
        Assert.Contains("(10,200,10)", stdout);
        Assert.Contains("usable: no", stdout);
    }

    [Fact]
    public void Check_counts_calibration_files_and_lists_a_broken_one_as_a_problem()
    {
        using var dir = new TempDir();
        Kitti.Synthetic(dir, count: 6, testCount: 3);
        var (fine, fineOut, _) = Seg.Run("check", "--data", dir.Path);
        Assert.Equal(0, fine);
        Assert.Contains("calib     6/6 training, 3/3 testing: the bird's-eye view (seg eval --bev, the submission) works for every image", fineOut);

        File.Delete(dir["training/calib/umm_000001.txt"]);
        File.WriteAllText(dir["testing/calib/uu_000000.txt"], "P2: 1 2 3\n");
        var (exit, stdout, _) = Seg.Run("check", "--data", dir.Path);

        Assert.Equal(2, exit);
        Assert.Contains("calib     5/6 training, 2/3 testing: 1 image(s) have none (umm_000001.png); seg eval --bev and seg predict --bev need one per image", stdout);
        Assert.Contains("uu_000000.txt: P2 has 3 numbers, not 12", stdout);
        Assert.Contains("usable: no", stdout);
    }

    [Fact]
    public void Bad_input_is_one_line_on_stderr_with_exit_two_not_a_stack_trace()
    {
        using var dir = new TempDir();
        Kitti.Pair(dir.Path, "um", 0);
        Kitti.Solid(dir["training/image_2/um_000005.png"], 16, 8, (1, 1, 1));

        var missing = Seg.Run("check", "--data", dir["absent"]);
        var unpaired = Seg.Run("check", "--data", dir.Path);
        var badSize = Seg.Run("synth", "--out", dir["s"], "--size", "twelve");

        foreach (var (exit, _, err) in new[] { missing, unpaired, badSize })
        {
            Assert.Equal(2, exit);
            Assert.StartsWith("error: ", err);
            Assert.DoesNotContain("   at ", err);
        }
        Assert.Contains("seg synth", missing.Err);
        Assert.Contains("um_000005.png", unpaired.Err);
        Assert.Contains("HEIGHTxWIDTH", badSize.Err);
    }

    [Fact]
    public void Info_reports_the_runtime()
    {
        var (exit, stdout, _) = Seg.Run("info");

        Assert.Equal(0, exit);
        Assert.Contains("TorchSharp 0.107.0", stdout);
        Assert.Contains("libtorch 2.10", stdout);
    }
}
