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
            var files = Directory.Exists(source)
                ? Directory.GetFiles(source).Where(f => f.EndsWith(".png", StringComparison.OrdinalIgnoreCase) || f.EndsWith(".jpg", StringComparison.OrdinalIgnoreCase)).Order().ToList()
                : File.Exists(source) ? [source] : throw new BadInputException(source, "not found", "pass an image file or a folder of PNG/JPEG images");
            if (files.Count == 0)
                throw new BadInputException(source, "holds no .png or .jpg images", "point --input at KITTI's image_2 folder or an image");
            bool asKitti = parse.GetValue(kitti);
            var names = files.Select(f => asKitti ? KittiRoad.SampleOf(f).ResultName() : Path.GetFileNameWithoutExtension(f) + ".png").ToList();
            string outDir = Path.GetFullPath(parse.GetValue(output)!);
            var folders = new[] { "probs", "masks", "overlays" }.ToDictionary(n => n, n => Path.Combine(outDir, n));
            Directory.CreateDirectory(folders["probs"]);
            Directory.CreateDirectory(folders["masks"]);
            if (parse.GetValue(overlay))
                Directory.CreateDirectory(folders["overlays"]);

            TorchNative.EnsureLoadable();
            string modelPath = parse.GetValue(model)!;
            var options = RoadPredictor.DefaultOptions(modelPath) with { Flip = parse.GetValue(flip), Precision = parse.GetValue(precision)!, BatchSize = parse.GetValue(batch) };
            if (parse.GetValue(size) is { } s)
            {
                var (h, w) = Cli.ParseSize(s);
                options = options with { Height = h, Width = w };
            }
            using var predictor = RoadPredictor.Load(modelPath, options);
            int done = 0;
            foreach (var chunk in files.Zip(names).Chunk(options.BatchSize))
            {
                var images = chunk.Select(c => ImageFile.ReadRgb(c.First)).ToArray();
                var probabilities = predictor.PredictMany(images).ToArray();
                for (int i = 0; i < chunk.Length; i++)
                {
                    var (p, name, stem) = (probabilities[i], chunk[i].Second, Path.GetFileNameWithoutExtension(chunk[i].First) + ".png");
                    ImageFile.WriteGrayPng(Path.Combine(folders["probs"], name), p.Width, p.Height, p.Values);
                    ImageFile.WriteGrayPng(Path.Combine(folders["masks"], stem), p.Width, p.Height, Overlay.BinaryMask(p));
                    if (parse.GetValue(overlay))
                        ImageFile.WritePng(Path.Combine(folders["overlays"], stem), Overlay.Road(images[i], p));
                }
                done += chunk.Length;
                Console.Error.WriteLine($"{done}/{files.Count}");
            }
            Console.WriteLine($"wrote {files.Count} probability maps to {folders["probs"]} and masks to {folders["masks"]}" +
                              (parse.GetValue(overlay) ? $", overlays to {folders["overlays"]}" : ""));
            return 0;
        }));
        return command;
    }
}
