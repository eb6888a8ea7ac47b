namespace SegHelpers.Model.Weights;

/// <summary>What <see cref="WeightLoader"/> did: which model tensors came from the file and which did not.</summary>
/// <param name="Source">The weight file.</param>
/// <param name="Layout">The naming it was recognised as (FCN or torchvision VGG16).</param>
/// <param name="Loaded">Model tensors set from the file.</param>
/// <param name="Missing">Model tensors the file does not have; they keep their initialisation.</param>
/// <param name="Ignored">File tensors deliberately not used (torchvision's ImageNet classifier).</param>
public sealed record WeightLoadReport(
    string Source,
    string Layout,
    IReadOnlyList<string> Loaded,
    IReadOnlyList<string> Missing,
    IReadOnlyList<string> Ignored)
{
    /// <summary>True when some model tensors kept their initialisation.</summary>
    public bool IsPartial => Missing.Count > 0;

    /// <inheritdoc />
    public override string ToString()
    {
        string text = $"loaded {Loaded.Count} of {Loaded.Count + Missing.Count} tensors from {Source} ({Layout})";
        if (Missing.Count > 0)
            text += $"; kept as initialised: {Summarise(Missing)}";
        if (Ignored.Count > 0)
            text += $"; ignored (ImageNet classifier, not part of an FCN): {Summarise(Ignored)}";
        return text;
    }

    /// <summary>Names grouped by their module (<c>decoder.score_fr.weight</c> and <c>.bias</c> → <c>decoder.score_fr</c>).</summary>
    internal static string Summarise(IEnumerable<string> names, int max = 12)
    {
        var modules = names.Select(n => n.LastIndexOf('.') is > 0 and var dot ? n[..dot] : n).Distinct().ToList();
        return string.Join(", ", modules.Take(max)) + (modules.Count > max ? $" and {modules.Count - max} more" : "");
    }
}
