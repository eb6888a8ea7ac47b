using SegHelpers.Model;

namespace SegHelpers.Tests.Cli;

public class ModelCommandTests
{
    [Fact]
    public void Summary_prints_every_stage_the_input_sized_output_and_the_total()
    {
        var (exit, stdout, _) = Seg.Run("model", "summary", "--variant", "fcn16s", "--height", "97", "--width", "301", "--width-divisor", "16");

        Assert.Equal(0, exit);
        using var model = new Fcn(new FcnOptions("fcn16s", WidthDivisor: 16));
        Assert.Contains($"{model.ParameterCount():N0}", stdout.Split('\n').Single(l => l.StartsWith("total")));
        Assert.Contains("[1, 2, 97, 301]", stdout);
        Assert.Equal(5, stdout.Split('\n').Count(l => l.StartsWith("encoder block")));
    }

    [Fact]
    public void Unknown_variant_exits_two_with_the_choices()
    {
        var (exit, _, stderr) = Seg.Run("model", "summary", "--variant", "fcn4s");

        Assert.Equal(2, exit);
        Assert.Contains("fcn8s, fcn16s, fcn32s", stderr);
    }

    [Fact]
    public void A_libtorch_runtime_error_is_one_error_line_and_exit_one()
    {
        // A negative class count reaches libtorch, which refuses to make the score layer.
        var (exit, stdout, stderr) = Seg.Run("model", "summary", "--classes", "-1", "--width-divisor", "16");

        Assert.Equal(1, exit);
        var lines = stderr.Trim().Split('\n');
        Assert.Equal(2, lines.Length);
        Assert.StartsWith("error: libtorch: Trying to create tensor with negative dimension -1", lines[0]);
        // Where libtorch raised it, so that a message-less check (TORCH_CHECK(false)) can still be traced to its call site.
        Assert.Matches(@" \(raised in \S+ at aten/src/\S+\.(h|cpp):\d+\)$", lines[0]);
        Assert.Equal("(set SEG_DEBUG=1 for the details)", lines[1]);
        Assert.DoesNotContain("   at ", stdout + stderr);
    }

    /// <summary>
    /// 4 × 200000² floats is 640 GB. glibc's allocator refuses that at once; jemalloc reserves it unchecked and the kernel kills the
    /// process later (exit 137), so the size is refused before anything is allocated.
    /// </summary>
    [Fact]
    public void A_size_no_machine_here_can_hold_is_refused_before_any_allocation()
    {
        var (exit, stdout, stderr) = Seg.Run("model", "summary", "--height", "200000", "--width", "200000", "--width-divisor", "16");

        Assert.Equal(2, exit);
        string line = Assert.Single(stderr.Trim().Split('\n'));
        Assert.StartsWith("error: input size 200000x200000 (batch 1): needs 640.0 GB for one activation alone, and this machine has ", line);
        Assert.Contains("Fix: choose a smaller size or batch", line);
        Assert.DoesNotContain("   at ", stdout + stderr);
    }
}
