using System.CommandLine;
using SegHelpers.Evaluation;

namespace SegCli.Commands;

/// <summary><c>seg bev</c>: KITTI's metric bird's-eye view of labels, probability maps or camera images, as the devkit's transform2BEV.py makes it.</summary>
static class BevCommand
{
    public static Command Create()
    {
        var calib = new Option<string>("--calib") { Description = "A KITTI calibration file for every input, or a calib/ folder (um_000000.txt serves um_000000.png, um_road_000000.png and um_lane_000000.png).", Required = true };
        var input = new Option<string>("--input") { Description = "A PNG or a folder of PNGs: labels, 8-bit probability maps or camera images.", Required = true };
        var output = new Option<string>("--out") { Description = "Folder for the bird's-eye views (400×800, same names, same kind: grayscale stays grayscale).", Required = true };
        var command = new Command("bev", "Transform perspective PNGs to KITTI's bird's-eye view (0.05 m cells, x −10…10 m, z 6…46 m), as the devkit does before evaluation and submission.")
        {
            calib, input, output,
        };
        command.SetAction(parse => Cli.Run(() =>
        {
            var views = new BirdsEyeViews(parse.GetValue(calib)!);
            var files = BirdsEyeViews.PngFiles(parse.GetValue(input)!);
            string outDir = Path.GetFullPath(parse.GetValue(output)!);
            var results = CountProgress.Run("bird's-eye view", files.Count, progress => views.TransformFiles(files, outDir, progress));
            foreach (var bad in results.Where(r => r.Error is not null))
                Console.Error.WriteLine($"error: {bad.Error}");
            int written = results.Count(r => r.Output is not null);
            Console.WriteLine($"wrote {written} of {files.Count} bird's-eye views ({SegHelpers.Evaluation.BirdsEyeView.Width}×{SegHelpers.Evaluation.BirdsEyeView.Height}) to {outDir}");
            return written == files.Count ? 0 : Cli.BadInput;
        }));
        return command;
    }
}
