using TorchSharp;
using SegHelpers.Data;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace SegHelpers.Training;

/// <summary>
/// Pixel-wise cross-entropy over the classes' softmax, as in the paper, averaged over evaluated pixels only:
/// don't-care pixels (<see cref="RoadLabel.Ignore"/>) add nothing to the loss or the gradient.
/// Optional per-class weights (e.g. to favour the rarer class) weight each pixel by its true class.
/// </summary>
public sealed class RoadLoss : IDisposable
{
    readonly Tensor? _weights;

    /// <summary>A loss with optional class weights (one per class).</summary>
    public RoadLoss(IReadOnlyList<double>? classWeights = null, Device? device = null)
    {
        if (classWeights is { Count: > 0 })
            _weights = tensor(classWeights.Select(w => (float)w).ToArray(), device: device);
    }

    /// <summary>Mean loss over evaluated pixels of <paramref name="logits"/> [N, C, H, W] against <paramref name="masks"/> [N, H, W].</summary>
    public Tensor Compute(Tensor logits, Tensor masks) =>
        F.cross_entropy(logits, masks, weight: _weights, ignore_index: RoadLabel.Ignore);

    /// <inheritdoc />
    public void Dispose() => _weights?.Dispose();
}
