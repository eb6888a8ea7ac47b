using System.CommandLine;
using SegHelpers;
using SegHelpers.Data;
using SegHelpers.Evaluation;
using SegHelpers.Native;

namespace SegCli.Commands;

/// <summary><c>seg predict</c>: road probability maps, masks and overlays for an image or a folder.</summary>
static class PredictCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "Run folder (best.safetensors) or checkpoint file.", Required = true };
        var input = new Option<string>("--input") { Description = "A PNG/JPEG image or a folder of them.", Required = true };
        var output = new Option<string>("--out") { Description = "Output folder: probs/, masks/ and overlays/.", Required = true };
        var kitti = new Option<bool>("--kitti") { Description = "Name probability maps {cat}_road_NNNNNN.png for a KITTI submission or the devkit." };
        var overlay = new Option<bool>("--overlay") { Description = "Also write the images with predicted road tinted green." };
        var flip = new Option<bool>("--flip") { Description = "Average with the mirrored image's prediction." };
        var size = new Option<string?>("--size") { Description = "Network input HxW (default: the run's training size)." };
        var precision = new Option<string>("--precision") { DefaultValueFactory = _ => "fp32", Description = "fp32, or bf16 (fast on CPUs with AVX512-BF16/AMX and on CUDA)." };
        var batch = new Option<int>("--batch-size") { DefaultValueFactory = _ => 4, Description = "Images per forward pass." };
        var command = new Command("predict", "Predict road on images of any size; outputs have each image's own size.")
        {
            model, input, output, kitti, overlay, flip, size, batch, precision,
        };
        command.SetAction(parse => Cli.Run(() =>
        {
            string source = parse.GetValue(input)!;
            var images = Directory.Exists(source)
                ? Directory.GetFiles(source).Where(f => f.EndsWith(".png", StringComparison.OrdinalIgnoreCase) || f.EndsWith(".jpg", StringComparison.OrdinalIgnoreCase)).Order().ToList()
                : File.Exists(source) ? [source] : throw new BadInputException(source, "not found", "pass an image file or a folder of PNG/JPEG images");
            if (images.Count == 0)
                throw new BadInputException(source, "holds no .png or .jpg images", "point --input at KITTI's image_2 folder or an image");
            string outDir = Path.GetFullPath(parse.GetValue(output)!);
            var files = new PredictionFiles(Path.Combine(outDir, "probs"), Path.Combine(outDir, "masks"),
                parse.GetValue(overlay) ? Path.Combine(outDir, "overlays") : null, KittiNames: parse.GetValue(kitti));

            TorchNative.EnsureLoadable();
            string modelPath = parse.GetValue(model)!;
            var options = RoadPredictor.DefaultOptions(modelPath) with { Flip = parse.GetValue(flip), Precision = parse.GetValue(precision)!, BatchSize = parse.GetValue(batch) };
            if (parse.GetValue(size) is { } s)
            {
                var (h, w) = Cli.ParseSize(s);
                options = options with { Height = h, Width = w };
            }
            using var predictor = RoadPredictor.Load(modelPath, options);
            CountProgress.Run("predicting", images.Count, progress => PredictionWriter.Write(predictor, images, files, progress));
            Console.WriteLine($"wrote {images.Count} probability maps to {files.Probabilities} and masks to {files.Masks}" +
                              (files.Overlays is null ? "" : $", overlays to {files.Overlays}"));
            return 0;
        }));
        return command;
    }
}
