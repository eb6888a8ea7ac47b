namespace SegHelpers.Model;

/// <summary>
/// Architecture of an FCN. The defaults are the paper's FCN-8s for binary road segmentation.
/// </summary>
/// <param name="Variant">fcn8s (pool3 and pool4 skips), fcn16s (pool4 skip) or fcn32s (no skip).</param>
/// <param name="NumClasses">Output logits per pixel; 2 (non-road, road) with softmax, as in the paper.</param>
/// <param name="WidthDivisor">Divides every channel count (64…512, 4096); 1 is VGG16. Larger values make small models for tests and quick experiments.</param>
/// <param name="Dropout">Dropout after fc6 and fc7.</param>
/// <param name="AtOnceSkipScaling">
/// Scale the pool4 and pool3 features by 0.01 and 0.0001 before scoring, as the paper's "at-once"
/// FCN-8s did to keep early updates from swamping the coarse prediction. Off by default: with the
/// score layers zero-initialised (as in the paper) and Adam, the scaling is not needed.
/// </param>
public sealed record FcnOptions(
    string Variant = "fcn8s",
    int NumClasses = 2,
    int WidthDivisor = 1,
    double Dropout = 0.5,
    bool AtOnceSkipScaling = false)
{
    /// <summary>The variants <see cref="Fcn.Create"/> builds by name.</summary>
    public static readonly IReadOnlyList<string> Variants = ["fcn8s", "fcn16s", "fcn32s"];

    /// <summary>Total stride of the skips the variant fuses: 8, 16 or 32.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public int OutputStride => Variant switch
    {
        "fcn8s" => 8,
        "fcn16s" => 16,
        "fcn32s" => 32,
        _ => throw new ArgumentException($"unknown FCN variant '{Variant}'; use one of {string.Join(", ", Variants)}", nameof(Variant)),
    };
}
