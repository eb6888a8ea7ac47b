using System.CommandLine;
using SegHelpers.Data;

namespace SegCli.Commands;

/// <summary><c>seg synth</c>: writes the synthetic KITTI-format default dataset.</summary>
static class SynthCommand
{
    public static Command Create()
    {
        var outDir = new Option<string>("--out") { Description = "Folder to write training/ and testing/ into.", Required = true };
        var count = new Option<int>("--count") { Description = "Labelled training images.", DefaultValueFactory = _ => 40 };
        var testCount = new Option<int?>("--test-count") { Description = "Unlabelled test images (default: count/4, at least 3)." };
        var seed = new Option<int>("--seed") { Description = "Same seed, same bytes.", DefaultValueFactory = _ => 1 };
        var size = new Option<string?>("--size") { Description = "HEIGHTxWIDTH for every image (default: the real KITTI sizes, mixed)." };
        var command = new Command("synth", "Write synthetic road scenes in the KITTI data_road layout and colours.")
        {
            outDir, count, testCount, seed, size,
        };
        command.SetAction(parse => Cli.Run(() =>
        {
            var dims = parse.GetValue(size) is string s ? Cli.ParseSize(s) : ((int, int)?)null;
            var options = new SyntheticOptions(parse.GetValue(count), parse.GetValue(seed), parse.GetValue(testCount), dims?.Item1, dims?.Item2);
            string dir = Path.GetFullPath(parse.GetValue(outDir)!);
            var started = DateTime.UtcNow;
            SyntheticRoads.Write(dir, options);
            Console.WriteLine($"wrote {options.Count} labelled and {options.TestCount ?? Math.Max(3, options.Count / 4)} test images to {dir} " +
                              $"in {(DateTime.UtcNow - started).TotalSeconds:F1} s (seed {options.Seed})");
            return 0;
        }));
        return command;
    }
}
