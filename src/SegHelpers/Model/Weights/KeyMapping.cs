namespace SegHelpers.Model.Weights;

/// <summary>
/// How a file's tensor names become this project's FCN names. Three layouts are recognised:
/// <list type="bullet">
/// <item>this project's own (<c>encoder.features.N.*</c>, <c>encoder.fc6.*</c>, <c>encoder.fc7.*</c>, <c>decoder.*</c>): taken as they are;</item>
/// <item>torchvision's VGG16 (<c>features.N.*</c>, <c>classifier.0/3/6.*</c>): features map one to one;
/// <c>classifier.0</c> [4096, 25088] becomes fc6 [4096, 512, 7, 7] and <c>classifier.3</c> [4096, 4096] becomes
/// fc7 [4096, 4096, 1, 1], the paper's convolutionalisation; <c>classifier.6</c> (ImageNet's 1000 classes) is ignored;</item>
/// <item>either of the above saved from <c>nn.DataParallel</c> (every key prefixed <c>module.</c>).</item>
/// </list>
/// </summary>
public static class KeyMapping
{
    /// <summary>A tensor under its FCN name, or the reason it is not used.</summary>
    public sealed record Mapped(TensorEntry Source, TensorEntry? Target, string? IgnoredBecause);

    /// <summary>Names the layout of <paramref name="weights"/> and maps every tensor.</summary>
    public static (string Layout, List<Mapped> Tensors) Map(StateDict weights)
    {
        string strip = weights.All(t => t.Name.StartsWith("module.", StringComparison.Ordinal)) ? "module." : "";
        string Name(TensorEntry t) => t.Name[strip.Length..];
        bool torchvision = weights.Any(t => Name(t).StartsWith("features.", StringComparison.Ordinal) || Name(t).StartsWith("classifier.", StringComparison.Ordinal))
            && !weights.Any(t => Name(t).StartsWith("encoder.", StringComparison.Ordinal));
        string layout = (torchvision ? "torchvision VGG16" : "FCN") + (strip.Length > 0 ? " (DataParallel 'module.' prefix removed)" : "");
        var mapped = new List<Mapped>();
        foreach (var tensor in weights)
        {
            string name = Name(tensor);
            mapped.Add(torchvision ? FromTorchvision(tensor, name) : new Mapped(tensor, tensor.Rename(name), null));
        }
        return (layout, mapped);
    }

    static Mapped FromTorchvision(TensorEntry tensor, string name)
    {
        if (name.StartsWith("features.", StringComparison.Ordinal))
            return new(tensor, tensor.Rename("encoder." + name), null);
        string[] parts = name.Split('.');
        if (parts is ["classifier", "6", _])
            return new(tensor, null, "ImageNet classifier, not part of an FCN");
        if (parts is ["classifier", "0" or "3", "weight" or "bias"])
        {
            string layer = parts[1] == "0" ? "fc6" : "fc7";
            var target = tensor.Rename($"encoder.{layer}.{parts[2]}");
            if (parts[2] == "weight" && tensor.Shape.Length == 2)
            {
                long outputs = tensor.Shape[0], inputs = tensor.Shape[1];
                int kernel = layer == "fc6" ? 7 : 1;
                if (inputs % (kernel * kernel) != 0)
                    return new(tensor, target, null); // left 2-D so the shape check reports it
                target = target.Reshape(outputs, inputs / (kernel * kernel), kernel, kernel);
            }
            return new(tensor, target, null);
        }
        return new(tensor, tensor.Rename(name), null);
    }
}
