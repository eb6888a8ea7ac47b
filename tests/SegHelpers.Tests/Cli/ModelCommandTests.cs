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
        // 3 × 200000² floats is 480 GB: libtorch's allocator refuses at once.
        var (exit, stdout, stderr) = Seg.Run("model", "summary", "--height", "200000", "--width", "200000", "--width-divisor", "16");

        Assert.Equal(1, exit);
        var lines = stderr.Trim().Split('\n');
        Assert.Equal(2, lines.Length);
        Assert.StartsWith("error: libtorch: ", lines[0]);
        Assert.Equal("(set SEG_DEBUG=1 for the details)", lines[1]);
        Assert.DoesNotContain("   at ", stdout + stderr);
    }
}
