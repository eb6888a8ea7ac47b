using SegHelpers.Data;

namespace SegHelpers.Evaluation;

/// <summary>
/// The network behind a <see cref="RoadPredictor"/>, with its input and output steps: images of any size in, road probability maps
/// at their own sizes out. libtorch's (<see cref="TorchRoadNetwork"/>) and ONNX Runtime's (<see cref="Onnx.OnnxRoadNetwork"/>, which
/// does the same steps in managed code and runs without libtorch) backends implement it.
/// </summary>
public interface IRoadNetwork : IDisposable
{
    /// <summary>One line for people: the model and what runs it.</summary>
    string Description { get; }

    /// <summary>Where the network runs: <c>cpu</c>, <c>cuda:0</c>.</summary>
    string Device { get; }

    /// <summary>The precision actually used.</summary>
    string Precision { get; }

    /// <summary>Why the precision or device asked for was not used (also written to standard error), or null.</summary>
    string? Warning { get; }

    /// <summary>The model's channel divisor (1 = VGG16), for the memory check of an input size.</summary>
    int WidthDivisor { get; }

    /// <summary>
    /// One pass over <paramref name="images"/>: each resized to <paramref name="height"/>×<paramref name="width"/> and normalised, the
    /// logits averaged with those of the mirrored batch when <paramref name="flip"/>, resized back to the image's size, softmax, × 255.
    /// </summary>
    IReadOnlyList<RoadProbability> Predict(IReadOnlyList<RgbImage> images, int height, int width, bool flip);
}
