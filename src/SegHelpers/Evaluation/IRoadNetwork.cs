using static TorchSharp.torch;

namespace SegHelpers.Evaluation;

/// <summary>
/// The network behind a <see cref="RoadPredictor"/>: normalised images [N, 3, H, W] in, fp32 logits [N, classes, H, W] out.
/// libtorch's (<see cref="TorchRoadNetwork"/>) and ONNX Runtime's (<see cref="Onnx.OnnxRoadNetwork"/>) backends implement it;
/// the predictor's resizing, flip averaging, upsampling and quantisation are the same for both.
/// </summary>
public interface IRoadNetwork : IDisposable
{
    /// <summary>One line for people: the model and what runs it.</summary>
    string Description { get; }

    /// <summary>Where the batches and logits live.</summary>
    Device Device { get; }

    /// <summary>The precision actually used.</summary>
    string Precision { get; }

    /// <summary>Why the precision or device asked for was not used (also written to standard error), or null.</summary>
    string? Warning { get; }

    /// <summary>The model's channel divisor (1 = VGG16), for the memory check of an input size.</summary>
    int WidthDivisor { get; }

    /// <summary>fp32 logits of a batch on <see cref="Device"/>.</summary>
    Tensor Logits(Tensor batch);
}
