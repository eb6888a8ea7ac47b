using System.CommandLine;
using SegHelpers.Model.Weights;
using SegHelpers.Native;

namespace SegCli.Commands;

/// <summary><c>seg weights inspect</c> and <c>seg weights export</c>.</summary>
static class WeightsCommand
{
    public static Command Create() => new("weights", "Read, check and convert weight files (.pth, .pt, .safetensors).")
    {
        Inspect(),
        Export(),
    };

    static Command Inspect()
    {
        var file = new Argument<string>("FILE") { Description = "A torch.save file (zip or legacy) or a safetensors file." };
        var command = new Command("inspect", "List every tensor's name, dtype and shape; refuses files that would run code.") { file };
        command.SetAction(parse => Cli.Run(() =>
        {
            string path = parse.GetValue(file)!;
            var weights = StateDict.Read(path);
            long bytes = weights.Sum(t => t.ByteCount);
            Console.WriteLine($"file     {path}");
            Console.WriteLine($"format   {weights.Format}, {weights.Count} tensors, {weights.ElementCount:N0} values, {bytes / 1e6:N1} MB");
            if (weights.Unwrapped is not null)
                Console.WriteLine($"wrapped  tensors found under '{weights.Unwrapped}'");
            if (weights.Skipped.Count > 0)
                Console.WriteLine($"skipped  {weights.Skipped.Count} non-tensor entries: {string.Join(", ", weights.Skipped.Take(8))}");
            var (layout, mapped) = KeyMapping.Map(weights);
            var first = mapped.FirstOrDefault(m => m.Target?.Name == "encoder.features.0.weight")?.Target;
            string fit = first is { Shape: [> 0 and var width, ..] } && 64 % width == 0 ? $"; fits an FCN with --width-divisor {64 / width}" : "";
            Console.WriteLine($"naming   {layout}{fit}");
            foreach (var (key, value) in weights.Metadata.OrderBy(m => m.Key, StringComparer.Ordinal))
                Console.WriteLine($"meta     {key} = {value}");
            int nameWidth = Math.Max(24, weights.Max(t => t.Name.Length));
            Console.WriteLine();
            Console.WriteLine($"{"name".PadRight(nameWidth)}  {"dtype",-8}  shape");
            foreach (var tensor in weights)
                Console.WriteLine($"{tensor.Name.PadRight(nameWidth)}  {tensor.DTypeName,-8}  [{string.Join(", ", tensor.Shape)}]");
            return 0;
        }));
        return command;
    }

    static Command Export()
    {
        var model = new Argument<string>("MODEL") { Description = "A checkpoint of this project (model.safetensors, best.safetensors…)." };
        var output = new Option<string>("--out") { Description = "The file to write.", Required = true };
        var format = new Option<string>("--format")
        {
            DefaultValueFactory = _ => "safetensors",
            Description = "One of: safetensors (the weights and architecture, for PyTorch's safetensors.torch.load_file), " +
                          $"onnx (graph and weights in one file, opset {SegHelpers.Onnx.OnnxExport.Opset}: input image N×3×H×W, outputs logits and road).",
        };
        format.AcceptOnlyFromAmong("safetensors", "onnx");
        var command = new Command("export", "Write a model to safetensors for PyTorch, or to ONNX for ONNX Runtime, TensorRT or OpenVINO.") { model, output, format };
        command.SetAction(parse => Cli.Run(() =>
        {
            TorchNative.EnsureLoadable();
            string source = parse.GetValue(model)!, target = parse.GetValue(output)!;
            var (fcn, _) = FcnCheckpoint.Load(source);
            using (fcn)
            {
                if (parse.GetValue(format) == "onnx")
                {
                    var metadata = new Dictionary<string, string> { ["seg.source"] = Path.GetFileName(Path.GetFullPath(source)) };
                    var run = new SegHelpers.Training.RunFolder(Path.GetDirectoryName(Path.GetFullPath(source))!);
                    if (run.HasRun)
                        metadata["seg.input_size"] = $"{run.ReadInfo().Options.Height}x{run.ReadInfo().Options.Width}"; // the training size, predict's default
                    long bytes = SegHelpers.Onnx.OnnxExport.Write(fcn, target, new SegHelpers.Onnx.OnnxExportOptions(Metadata: metadata));
                    Console.WriteLine($"wrote {target} ({fcn.Options.Variant}, {fcn.ParameterCount():N0} parameters, ONNX opset {SegHelpers.Onnx.OnnxExport.Opset}, {bytes / 1e6:N1} MB)");
                }
                else
                {
                    FcnCheckpoint.Save(fcn, target);
                    Console.WriteLine($"wrote {target} ({fcn.Options.Variant}, {fcn.ParameterCount():N0} parameters)");
                }
            }
            return 0;
        }));
        return command;
    }
}
