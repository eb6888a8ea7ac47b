using System.CommandLine;
using SegHelpers.Model;
using SegHelpers.Model.Weights;
using SegHelpers.Native;

namespace SegCli.Commands;

/// <summary><c>seg model summary</c>: the FCN's stages, parameters and shapes.</summary>
static class ModelCommand
{
    public static Command Create()
    {
        var variant = new Option<string>("--variant") { Description = $"{Cli.Keywords(SegHelpers.Model.FcnOptions.Variants)}.", DefaultValueFactory = _ => "fcn8s" };
        var height = new Option<int>("--height") { Description = "Input height.", DefaultValueFactory = _ => 375 };
        var width = new Option<int>("--width") { Description = "Input width.", DefaultValueFactory = _ => 1242 };
        var classes = new Option<int>("--classes") { Description = "Output classes.", DefaultValueFactory = _ => 2 };
        var divisor = new Option<int>("--width-divisor") { Description = "Divide every channel count (1 = VGG16).", DefaultValueFactory = _ => 1 };
        var weights = new Option<string?>("--weights") { Description = "Load this weight file first and report what it filled (e.g. vgg16-397923af.pth)." };
        var summary = new Command("summary", "Print the FCN's stages with parameter counts and output shapes for an input size.")
        {
            variant, height, width, classes, divisor, weights,
        };
        summary.SetAction(parse => Cli.Run(() =>
        {
            TorchNative.EnsureLoadable();
            if (parse.GetValue(height) < 1 || parse.GetValue(width) < 1)
                throw new ArgumentException("--height and --width must be positive");
            using var model = new Fcn(new FcnOptions(parse.GetValue(variant)!, parse.GetValue(classes), parse.GetValue(divisor)));
            if (parse.GetValue(weights) is { } file)
                Console.WriteLine(WeightLoader.Load(model, file));
            var rows = ModelSummary.Build(model, parse.GetValue(height), parse.GetValue(width));
            Console.WriteLine($"{"stage",-40} {"parameters",14}  output");
            foreach (var row in rows)
                Console.WriteLine($"{row.Stage,-40} {row.Parameters,14:N0}  [{string.Join(", ", row.OutputShape)}]");
            Console.WriteLine($"{"total",-40} {model.ParameterCount(),14:N0}");
            return 0;
        }));
        return new Command("model", "Inspect FCN architectures.") { summary };
    }
}
