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
        var output = new Option<string>("--out") { Description = "The safetensors file to write: model weights and architecture only.", Required = true };
        var command = new Command("export", "Write a model's weights alone to safetensors, for PyTorch's safetensors.torch.load_file.") { model, output };
        command.SetAction(parse => Cli.Run(() =>
        {
            TorchNative.EnsureLoadable();
            var (fcn, _) = FcnCheckpoint.Load(parse.GetValue(model)!);
            using (fcn)
            {
                FcnCheckpoint.Save(fcn, parse.GetValue(output)!);
                Console.WriteLine($"wrote {parse.GetValue(output)} ({fcn.Options.Variant}, {fcn.ParameterCount():N0} parameters)");
            }
            return 0;
        }));
        return command;
    }
}
