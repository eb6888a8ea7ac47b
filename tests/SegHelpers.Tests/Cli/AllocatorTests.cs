using System.Diagnostics;
using SegHelpers.Native;
using SegHelpers.Tests.Data;

namespace SegHelpers.Tests.Cli;

/// <summary>seg runs the model on jemalloc where it is installed (test.sh installs it), on tuned glibc where it is not.</summary>
public class AllocatorTests
{
    [Fact]
    public void Seg_runs_on_jemalloc_with_page_decay_off()
    {
        Assert.True(FastAllocator.Library() is not null, $"jemalloc is not installed here ({FastAllocator.InstallHint}); test.sh installs it");

        var (exit, stdout, stderr) = Seg.Run("info");

        Assert.True(exit == 0, stderr);
        // jemalloc's own answer (mallctl), written out here rather than taken from the constant the product sets.
        Assert.Contains("allocator: jemalloc (dirty_decay_ms:-1,muzzy_decay_ms:-1,background_thread:false)", stdout);
        Assert.DoesNotContain("<jemalloc>:", stderr);
        Assert.DoesNotContain("note: jemalloc", stderr);
    }

    [Fact]
    public void Without_jemalloc_glibc_is_tuned_and_the_model_commands_say_what_to_install()
    {
        var missing = new Dictionary<string, string> { [FastAllocator.LibraryVariable] = "/nonexistent/libjemalloc.so.2" };

        var info = Seg.Run(missing, "info");
        var eval = Seg.Run(missing, "eval", "--data", "/nonexistent", "--probs", "/nonexistent");

        Assert.Equal(0, info.Exit);
        Assert.Contains("allocator: glibc, tuned in-process", info.Out);
        Assert.DoesNotContain("libjemalloc", info.Out.Split("allocator:")[1].Split('\n')[0].Replace("libjemalloc2", ""));
        Assert.Equal(2, eval.Exit);
        var lines = eval.Err.Trim().Split('\n');
        Assert.StartsWith("note: jemalloc is not installed, so glibc's allocator is tuned instead; for the fastest setting: apt-get install libjemalloc2", lines[0]);
        Assert.StartsWith("error: /nonexistent", lines[1]);
    }

    [Fact]
    public void System_keeps_glibcs_defaults()
    {
        var (exit, stdout, _) = Seg.Run(new Dictionary<string, string> { [FastAllocator.ChoiceVariable] = "system" }, "info");

        Assert.Equal(0, exit);
        Assert.Contains($"allocator: glibc's defaults ({FastAllocator.ChoiceVariable}=system)", stdout);
    }

    [Fact]
    public async Task Sigterm_reaches_the_training_run_which_stops_at_a_checkpoint()
    {
        using var dir = new TempDir();
        string data = Kitti.Synthetic(dir, count: 8, height: 48, width: 160);
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string a in new[] { Path.Combine(AppContext.BaseDirectory, "seg.dll"), "train", "--data", data, "--out", dir["run"], "--size", "32x96",
                     "--width-divisor", "4", "--batch-size", "2", "--epochs", "500", "--device", "cpu" })
            start.ArgumentList.Add(a);
        using var seg = Process.Start(start)!;
        var stderr = seg.StandardError.ReadToEndAsync();
        string? line;
        while ((line = seg.StandardOutput.ReadLine()) is not null && !line.StartsWith("epoch 2:", StringComparison.Ordinal))
        {
        }
        if (line is null)
            Assert.Fail($"no second epoch: {await stderr}");

        // The precondition: seg started itself again on jemalloc, so the signal goes to the first process and must be forwarded.
        string children = File.ReadAllText($"/proc/{seg.Id}/task/{seg.Id}/children").Trim();
        Assert.True(children.Length > 0, "seg did not restart itself, so this test would not see the forwarding");
        Assert.Contains("train", File.ReadAllText($"/proc/{children.Split(' ')[0]}/cmdline"));
        Process.Start("kill", ["-TERM", seg.Id.ToString()])!.WaitForExit();
        string rest = seg.StandardOutput.ReadToEnd();

        Assert.True(seg.WaitForExit(TimeSpan.FromMinutes(2)), "seg stopped after SIGTERM");
        Assert.Equal(130, seg.ExitCode); // the interrupted run's own exit code, passed on by the process that started it
        var interrupted = System.Text.RegularExpressions.Regex.Match(rest, @"interrupted at epoch (\d+), step (\d+)");
        Assert.True(interrupted.Success, rest);
        // The checkpoint is the one written when the run stopped, at the step it names (the epochs' own checkpoints existed
        // before the signal and record step 0; a stop at an epoch's very start cannot be told from them).
        var state = TrainingStateIn(dir["run/last.safetensors"]);
        Assert.Equal((int.Parse(interrupted.Groups[1].Value) - 1, int.Parse(interrupted.Groups[2].Value)), state);
        int finished = File.ReadLines(dir["run/metrics.jsonl"]).Count(l => l.Trim().Length > 0);
        Assert.Equal(state.Epoch, finished);
        Assert.DoesNotContain("epoch 500:", rest);
    }

    /// <summary>Epochs completed and batches into the next, from a last.safetensors' metadata (seg.training).</summary>
    static (int Epoch, int BatchInEpoch) TrainingStateIn(string checkpoint)
    {
        using var file = File.OpenRead(checkpoint);
        var length = new byte[8];
        file.ReadExactly(length);
        var header = new byte[BitConverter.ToInt64(length)];
        file.ReadExactly(header);
        using var json = System.Text.Json.JsonDocument.Parse(header);
        using var state = System.Text.Json.JsonDocument.Parse(json.RootElement.GetProperty("__metadata__").GetProperty("seg.training").GetString()!);
        return (state.RootElement.GetProperty("Epoch").GetInt32(), state.RootElement.GetProperty("BatchInEpoch").GetInt32());
    }
}
