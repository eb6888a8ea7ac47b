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
}
