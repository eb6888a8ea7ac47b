using TorchSharp;
using static TorchSharp.torch;

namespace SegHelpers.Model.Weights;

/// <summary>Copies a weight file's tensors into an FCN, checking every name and shape first.</summary>
public static class WeightLoader
{
    /// <summary>
    /// Loads <paramref name="path"/> (safetensors, PyTorch zip or legacy <c>.pth</c>) into <paramref name="model"/>.
    /// Names are mapped by <see cref="KeyMapping"/>. Any tensor the model does not have, or has with another
    /// shape, is an error that lists them all, and the model is left untouched. Model tensors the file lacks
    /// keep their initialisation and are listed in the report (an ImageNet VGG16 file fills only the encoder);
    /// with <paramref name="requireAll"/> they are an error too.
    /// </summary>
    /// <exception cref="BadInputException">The file cannot be read or does not fit the model.</exception>
    public static WeightLoadReport Load(nn.Module model, string path, bool requireAll = false) =>
        Load(model, StateDict.Read(path), requireAll);

    /// <inheritdoc cref="Load(nn.Module, string, bool)" />
    public static WeightLoadReport Load(nn.Module model, StateDict weights, bool requireAll = false)
    {
        var (layout, mapped) = KeyMapping.Map(weights);
        var targets = model.state_dict();
        var unexpected = new List<string>();
        var mismatched = new List<string>();
        var assign = new List<(Tensor Target, TensorEntry Source)>();
        foreach (var m in mapped)
        {
            if (m.Target is null)
                continue;
            if (!targets.TryGetValue(m.Target.Name, out var target))
                unexpected.Add(m.Source.Name);
            else if (!target.shape.SequenceEqual(m.Target.Shape))
                mismatched.Add($"{m.Source.Name} is [{string.Join(", ", m.Source.Shape)}] but {m.Target.Name} is [{string.Join(", ", target.shape)}]");
            else if (!IsFloating(m.Target.DType) && IsFloating(target.dtype))
                mismatched.Add($"{m.Source.Name} holds {DTypes.Name(m.Target.DType)}, not floating-point weights");
            else
                assign.Add((target, m.Target));
        }
        var loadedNames = assign.Select(a => a.Source.Name).ToHashSet();
        var missing = targets.Keys.Where(k => !loadedNames.Contains(k)).ToList();
        var problems = new List<string>();
        if (mismatched.Count > 0)
            problems.Add($"{mismatched.Count} tensor(s) have the wrong shape: {string.Join("; ", mismatched.Take(10))}{(mismatched.Count > 10 ? "; …" : "")}");
        if (unexpected.Count > 0)
            problems.Add($"{unexpected.Count} tensor(s) the model does not have: {WeightLoadReport.Summarise(unexpected)}");
        if (requireAll && missing.Count > 0)
            problems.Add($"{missing.Count} model tensor(s) are not in the file: {WeightLoadReport.Summarise(missing)}");
        if (problems.Count > 0)
            throw new BadInputException(weights.Path,
                $"does not fit this {ModelName(model)} ({layout} naming): {string.Join(". ", problems)}",
                "pass weights saved from the same architecture and width (see `seg weights inspect FILE` and `seg model summary`), or torchvision's vgg16-397923af.pth for the full-width encoder");
        using (no_grad())
        {
            foreach (var (target, source) in assign)
            {
                using var scope = NewDisposeScope();
                target.copy_(source.ToTensor().to(target.dtype));
            }
        }
        var ignored = mapped.Where(m => m.Target is null).Select(m => m.Source.Name).ToList();
        return new WeightLoadReport(weights.Path, layout, assign.Select(a => a.Source.Name).ToList(), missing, ignored);
    }

    static string ModelName(nn.Module model) => model is Fcn fcn
        ? $"{fcn.Options.Variant} (width divisor {fcn.Options.WidthDivisor}, {fcn.Options.NumClasses} classes)"
        : model.GetName();

    static bool IsFloating(ScalarType type) => type is ScalarType.Float32 or ScalarType.Float64 or ScalarType.Float16 or ScalarType.BFloat16;
}
