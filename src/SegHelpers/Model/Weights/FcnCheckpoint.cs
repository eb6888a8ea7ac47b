using System.Text.Json;
using TorchSharp;
using static TorchSharp.torch;

namespace SegHelpers.Model.Weights;

/// <summary>
/// This project's model file: a safetensors file holding the FCN's state dict under its own names
/// (<c>encoder.features.N.weight</c>, <c>encoder.fc6.weight</c> [4096, 512, 7, 7], <c>decoder.score_fr.weight</c>,
/// <c>decoder.upscore.weight</c>… — see <c>seg weights inspect</c>), the architecture as JSON in the
/// <c>seg.fcn</c> metadata entry, and optional extra metadata and tensors (training state, under names starting
/// <c>train.</c>). Being plain safetensors, PyTorch reads it with <c>safetensors.torch.load_file</c>.
/// </summary>
public static class FcnCheckpoint
{
    /// <summary>The metadata key naming the format.</summary>
    public const string FormatKey = "seg.format";

    /// <summary>The value of <see cref="FormatKey"/>.</summary>
    public const string FormatValue = "seghelpers-fcn-1";

    /// <summary>The metadata key holding the <see cref="FcnOptions"/> as JSON.</summary>
    public const string OptionsKey = "seg.fcn";

    /// <summary>The prefix of tensors that are not model weights (optimizer state and the like).</summary>
    public const string ExtraPrefix = "train.";

    /// <summary>Writes <paramref name="model"/> (and any <paramref name="extra"/> tensors, named with <see cref="ExtraPrefix"/>) atomically.</summary>
    public static void Save(Fcn model, string path, IReadOnlyDictionary<string, string>? metadata = null, IEnumerable<(string Name, Tensor Tensor)>? extra = null)
    {
        var extras = (extra ?? []).ToList();
        var wrong = extras.FirstOrDefault(e => !e.Name.StartsWith(ExtraPrefix, StringComparison.Ordinal));
        if (wrong.Name is not null)
            throw new ArgumentException($"extra tensor '{wrong.Name}' must be named {ExtraPrefix}…");
        var meta = new Dictionary<string, string>(metadata ?? new Dictionary<string, string>())
        {
            [FormatKey] = FormatValue,
            [OptionsKey] = JsonSerializer.Serialize(model.Options),
        };
        var tensors = model.state_dict().Select(p => (p.Key, p.Value)).Concat(extras);
        Safetensors.Write(path, tensors, meta);
    }

    /// <summary>Reads the architecture stored in a checkpoint, or null when the file is not one of ours.</summary>
    public static FcnOptions? ReadOptions(StateDict file) =>
        file.Metadata.TryGetValue(OptionsKey, out var json) ? JsonSerializer.Deserialize<FcnOptions>(json) : null;

    /// <summary>Builds the FCN a checkpoint describes and loads all its weights (every model tensor must be present).</summary>
    /// <exception cref="BadInputException">The file is not an FCN checkpoint of this project, or is damaged.</exception>
    public static (Fcn Model, StateDict File) Load(string path)
    {
        var file = StateDict.Read(path);
        FcnOptions options;
        try
        {
            options = ReadOptions(file) ?? throw new BadInputException(path,
                $"has no '{OptionsKey}' metadata, so it is not a checkpoint of this project",
                "for torchvision or other PyTorch weights build the model with Fcn.Create and call WeightLoader.Load");
            _ = options.OutputStride;
        }
        catch (Exception e) when (e is JsonException or ArgumentException)
        {
            throw new BadInputException(path, $"its '{OptionsKey}' metadata is not a valid FCN description ({e.Message})", "save the model again with FcnCheckpoint.Save");
        }
        var model = new Fcn(options);
        try
        {
            WeightLoader.Load(model, file.Where(t => !t.Name.StartsWith(ExtraPrefix, StringComparison.Ordinal)), requireAll: true);
        }
        catch
        {
            model.Dispose();
            throw;
        }
        return (model, file);
    }
}
