using System.Diagnostics;
using SegHelpers.Data;
using SegHelpers.Tests.Data;
using SegHelpers.Training;

namespace SegHelpers.Tests.Cli;

public class TrainCommandTests
{
    static readonly string[] Tiny = ["--size", "32x96", "--width-divisor", "4", "--batch-size", "2"];

    [Fact]
    public void A_one_epoch_run_with_default_warm_up_exits_zero_ends_with_the_summary_and_prints_no_nnpack_line()
    {
        using var dir = new TempDir();
        string data = Kitti.Synthetic(dir, count: 8, height: 48, width: 160);
        string run = dir["run"];

        var (exit, stdout, stderr) = Seg.Run(["train", "--data", data, "--out", run, "--epochs", "1", .. Tiny]);

        Assert.True(exit == 0, stderr);
        var last = stdout.TrimEnd().Split('\n')[^1];
        Assert.StartsWith($"run {run}: best epoch ", last);
        Assert.Single(new RunFolder(run).ReadMetrics());
        // libtorch probes NNPACK before every fp32 CPU convolution and warns where it cannot initialise (this project's CI CPUs).
        Assert.DoesNotContain("NNPACK", stdout + stderr);
    }

    [Fact]
    public async Task Sigterm_saves_a_checkpoint_exits_130_and_resume_finishes_the_run()
    {
        using var dir = new TempDir();
        SyntheticRoads.Write(dir["data"], new SyntheticOptions(40, 5, 0, 64, 200));
        string run = dir["run"];
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string a in (string[])[Path.Combine(AppContext.BaseDirectory, "seg.dll"), "train", "--data", dir["data"], "--out", run,
                     "--epochs", "2", "--size", "64x192", "--width-divisor", "4", "--batch-size", "1"])
            start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        string? line;
        while ((line = process.StandardOutput.ReadLine()) is not null && !line.StartsWith("epoch 1 step 1/"))
        {
        }
        Assert.NotNull(line);
        Process.Start("kill", ["-TERM", $"{process.Id}"]).WaitForExit();
        string rest = process.StandardOutput.ReadToEnd();
        Assert.True(process.WaitForExit(TimeSpan.FromMinutes(2)));

        Assert.True(process.ExitCode == 130, $"exit {process.ExitCode}\n{rest}\n{await stderr}");
        Assert.Contains("interrupted at epoch 1", rest);
        Assert.True(File.Exists(new RunFolder(run).LastCheckpoint));
        Assert.Empty(new RunFolder(run).ReadMetrics());

        var (exit, stdout, err) = Seg.Run("train", "--resume", run);

        Assert.True(exit == 0, err);
        Assert.Contains("resumed", stdout);
        Assert.Equal([1, 2], new RunFolder(run).ReadMetrics().Select(m => m.Epoch));
    }

    [NoGpuFact]
    public void Cuda_asked_for_where_there_is_none_is_one_error_line_and_exit_two()
    {
        using var dir = new TempDir();
        string data = Kitti.Synthetic(dir, count: 8, height: 48, width: 160);

        var (exit, _, stderr) = Seg.Run(["train", "--data", data, "--out", dir["run"], "--device", "cuda", .. Tiny]);

        Assert.Equal(2, exit);
        Assert.Equal("error: device cuda was asked for but CUDA is not available here; use --device cpu or auto", stderr.Trim());
    }

    [SmallDiskFact]
    public void A_full_disk_while_writing_is_one_error_line_and_exit_one()
    {
        using var dir = new TempDir();
        string mount = dir["small"];
        Directory.CreateDirectory(mount);
        using (var mounting = Process.Start("mount", ["-t", "tmpfs", "-o", "size=256k", "tmpfs", mount]))
        {
            mounting.WaitForExit();
            Assert.Equal(0, mounting.ExitCode);
        }
        try
        {
            var (exit, _, stderr) = Seg.Run("synth", "--out", Path.Combine(mount, "data"), "--count", "20", "--size", "375x1242");

            Assert.Equal(1, exit);
            var lines = stderr.Trim().Split('\n');
            Assert.StartsWith("error: ", lines[0]);
            Assert.Contains("the disk is full", lines[0]);
            Assert.Equal("(set SEG_DEBUG=1 for the details)", lines[^1]);
            Assert.Equal(2, lines.Length);
        }
        finally
        {
            Process.Start("umount", [mount]).WaitForExit();
        }
    }

    [Fact]
    public void A_missing_data_folder_exits_two_naming_it()
    {
        using var dir = new TempDir();

        var (exit, _, stderr) = Seg.Run(["train", "--data", dir["nowhere"], "--out", dir["run"], .. Tiny]);

        Assert.Equal(2, exit);
        Assert.Contains(dir["nowhere"], stderr);
        Assert.False(Directory.Exists(dir["run"]) && Directory.EnumerateFiles(dir["run"]).Any());
    }
}
