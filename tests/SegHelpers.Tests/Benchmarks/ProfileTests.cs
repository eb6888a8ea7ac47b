using System.Text.Json;
using SegHelpers.Benchmarks;
using SegHelpers.Native;
using SegHelpers.Tests.Cli;

namespace SegHelpers.Tests.Benchmarks;

public partial class ProfileTests
{
    // Anonymous mappings straight from the kernel: the allocator in the process (glibc tuned in-process, or jemalloc with decay
    // off) would hand back pages an earlier test already faulted in, and those cost no system time.
    [System.Runtime.InteropServices.LibraryImport("libc", EntryPoint = "mmap")]
    private static unsafe partial void* Mmap(void* address, nuint length, int protection, int flags, int fd, nint offset);

    [System.Runtime.InteropServices.LibraryImport("libc", EntryPoint = "munmap")]
    private static unsafe partial int Munmap(void* address, nuint length);

    [Fact]
    public unsafe void Process_times_grow_with_work_in_user_mode_and_with_fresh_pages_in_the_kernel()
    {
        var start = ProcessTimes.Now();
        double sink = 0;
        for (int i = 0; i < 100_000_000; i++) // a fixed amount of work: at least its cost in CPU time, however busy the machine
            sink += Math.Sqrt(sink + i);
        var afterWork = ProcessTimes.Now();
        for (int i = 0; i < 20; i++)
        {
            // 64 MB of fresh pages each time: the kernel maps and zeroes them (system time)
            const int readWrite = 3, privateAnonymous = 0x22;
            var block = Mmap(null, 64 << 20, readWrite, privateAnonymous, -1, 0);
            Assert.True(block != (void*)-1, "mmap failed");
            for (long p = 0; p < 64 << 20; p += 4096)
                ((byte*)block)[p] = 1;
            Assert.Equal(0, Munmap(block, 64 << 20));
        }
        var afterPages = ProcessTimes.Now();

        var work = afterWork.Since(start);
        var pages = afterPages.Since(afterWork);
        Assert.True(sink > 0);
        Assert.True(work.User > TimeSpan.FromMilliseconds(50), $"user time for 10⁸ square roots: {work.User.TotalMilliseconds} ms");
        Assert.True(pages.System > TimeSpan.FromMilliseconds(20), $"system time for 1.3 GB of fresh pages: {pages.System.TotalMilliseconds} ms");
    }

    [Fact]
    public void Seg_bench_profile_splits_a_step_into_phases_that_add_up_and_counts_convolution_arithmetic()
    {
        using var dir = new TempDir();

        var (exit, stdout, stderr) = Seg.Run("bench", "--profile", "--sizes", "32x96", "--batch-sizes", "2", "--width-divisor", "4", "--repeats", "2",
            "--json", dir["profile.json"], "--markdown", dir["profile.md"]);

        Assert.True(exit == 0, stderr);
        var report = JsonSerializer.Deserialize<ProfileReport>(File.ReadAllText(dir["profile.json"]))!;
        var precisions = report.Rows.Select(r => r.Precision).Distinct().ToList();
        Assert.Equal(Bench.CpuHasBf16 ? ["fp32", "bf16"] : ["fp32"], precisions);
        foreach (string precision in precisions)
        {
            var phases = report.Rows.Where(r => r.Precision == precision && r.Section == "phase").ToList();
            var whole = phases.Single(r => r.Part == "whole step");
            Assert.Equal(whole.Seconds, phases.Where(r => r != whole).Sum(r => r.Seconds), 9);
            Assert.Contains(phases, r => r.Part == "backward" && r.Seconds > 0 && r.UserSeconds > 0);
            Assert.Equal(precision == "bf16", phases.Any(r => r.Part == "gradients to fp32 masters"));
            // The conv layers' arithmetic: forward once, backward twice (input and weight gradients) but once for the first layer.
            var layers = report.Rows.Where(r => r.Precision == precision && r.Section == "layer").ToList();
            double forward = layers.Where(r => r.Part.StartsWith("conv", StringComparison.Ordinal) && r.Part.EndsWith("forward", StringComparison.Ordinal)).Sum(r => r.Gflop);
            double backward = layers.Where(r => r.Part.StartsWith("conv", StringComparison.Ordinal) && r.Part.EndsWith("backward", StringComparison.Ordinal)).Sum(r => r.Gflop);
            double first = 2.0 * 3 * 16 * 9 * 32 * 96 * 2 / 1e9;
            Assert.Equal(phases.Single(r => r.Part == "forward").Gflop, forward, 6);
            Assert.Equal(2 * forward - first, backward, 6);
            Assert.Contains(layers, r => r.Part == "max pool forward");
            Assert.Contains(layers, r => r.Part == "decoder (scores, upsampling) backward");
        }
        string tables = File.ReadAllText(dir["profile.md"]);
        Assert.Contains("| fp32 | whole step |", tables);
        Assert.Contains("| fp32 | conv 3×3 (13 layers) backward |", tables);
        Assert.Contains("allocator: ", tables);
        Assert.Contains(tables, stdout);
    }
}
