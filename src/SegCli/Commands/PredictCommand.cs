using System.CommandLine;
using SegHelpers;
using SegHelpers.Data;
using SegHelpers.Evaluation;

namespace SegCli.Commands;

/// <summary><c>seg predict</c>: road probability maps, masks and overlays for an image or a folder.</summary>
static class PredictCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "Run folder (best.safetensors), checkpoint file, or .onnx file (--backend onnxruntime).", Required = true };
        var input = new Option<string>("--input") { Description = "A PNG/JPEG image or a folder of them.", Required = true };
        var output = new Option<string>("--out") { Description = "Output folder: probs/, masks/ and overlays/.", Required = true };
        var kitti = new Option<bool>("--kitti") { Description = "Name probability maps {cat}_road_NNNNNN.png, as the devkit's evaluateRoad.py reads them. They are in the image's perspective: the KITTI server wants --bev's maps." };
        var bev = new Option<string?>("--bev")
        {
            Arity = ArgumentArity.ZeroOrOne,
            HelpName = "CALIB_DIR",
            Description = "With --kitti: also write the bird's-eye-view maps the KITTI server evaluates (OUT/bev/) and OUT/" + KittiSubmission.ZipName +
                          ", the file to upload. CALIB_DIR holds each image's calibration (default: the calib/ folder beside the images' folder, e.g. testing/calib).",
        };
        var overlay = new Option<bool>("--overlay") { Description = "Also write the images with predicted road tinted green." };
        var flip = new Option<bool>("--flip") { Description = "Average with the mirrored image's prediction." };
        var size = new Option<string?>("--size") { Description = "Network input HxW (default: the run's training size)." };
        var precision = new Option<string>("--precision") { DefaultValueFactory = _ => "fp32", Description = $"{Cli.Keywords(PredictionOptions.Precisions)}: bf16 is fast on CPUs with AVX512-BF16/AMX and on CUDA, and checked at run time." };
        var device = Cli.DeviceOption();
        var backend = Cli.BackendOption();
        var batch = new Option<int>("--batch-size") { DefaultValueFactory = _ => 4, Description = "Images per forward pass." };
        var command = new Command("predict", "Predict road on images of any size; outputs have each image's own size.")
        {
            model, input, output, kitti, bev, overlay, flip, size, batch, device, precision, backend,
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
            string imageFolder = Path.TrimEndingDirectorySeparator(Directory.Exists(source) ? Path.GetFullPath(source) : Path.GetDirectoryName(Path.GetFullPath(source))!);
            string besideImages = Path.Combine(Path.GetDirectoryName(imageFolder) ?? imageFolder, "calib"); // testing/calib for testing/image_2
            BirdsEyeViews? views = null;
            if (parse.GetResult(bev) is not null)
            {
                if (!parse.GetValue(kitti))
                    throw new ArgumentException("--bev makes a KITTI submission: add --kitti (the maps need KITTI's names to find their calibration)");
                views = new BirdsEyeViews(parse.GetValue(bev) ?? besideImages);
                views.RequireAll(images);
            }
            var files = new PredictionFiles(Path.Combine(outDir, "probs"), Path.Combine(outDir, "masks"),
                parse.GetValue(overlay) ? Path.Combine(outDir, "overlays") : null, KittiNames: parse.GetValue(kitti));
            string modelPath = parse.GetValue(model)!;
            var options = RoadPredictor.DefaultOptions(modelPath, parse.GetValue(backend)) with { Flip = parse.GetValue(flip), Precision = parse.GetValue(precision)!, BatchSize = parse.GetValue(batch), Device = parse.GetValue(device)! };
            options = options with { Backend = parse.GetValue(backend) ?? options.Backend };
            if (parse.GetValue(size) is { } s)
            {
                var (h, w) = Cli.ParseSize(s);
                options = options with { Height = h, Width = w };
            }
            using var predictor = RoadPredictor.Load(modelPath, options);
            Console.Error.WriteLine($"predicting {images.Count} image(s) at {options.Height}×{options.Width} in {predictor.Options.Precision} on {predictor.Device}{(options.Flip ? " with flip averaging" : "")}");
            CountProgress.Run("predicting", images.Count, progress => PredictionWriter.Write(predictor, images, files, progress));
            Console.WriteLine($"wrote {images.Count} probability maps to {files.Probabilities} and masks to {files.Masks}" +
                              (files.Overlays is null ? "" : $", overlays to {files.Overlays}"));
            if (views is not null)
            {
                var maps = images.Select(i => Path.Combine(files.Probabilities!, KittiRoad.SampleOf(i).ResultName())).ToList();
                var submission = CountProgress.Run("bird's-eye view", maps.Count, progress => KittiSubmission.Write(maps, views, outDir, progress));
                Console.WriteLine($"wrote {submission.Maps} bird's-eye-view maps to {submission.BirdsEyeFolder}; upload {submission.Zip} to the KITTI Road server");
            }
            else if (parse.GetValue(kitti) && Directory.Exists(besideImages))
                Console.Error.WriteLine($"note: these maps are in the image's perspective; the KITTI server evaluates bird's-eye views: add --bev to write them (calibration from {besideImages}) and the zip to upload");
            return 0;
        }));
        return command;
    }
}
