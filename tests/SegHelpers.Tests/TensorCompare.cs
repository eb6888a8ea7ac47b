using static TorchSharp.torch;

namespace SegHelpers.Tests;

static class TensorCompare
{
    /// <summary>Same shape and every element equal.</summary>
    public static bool Same(this Tensor a, Tensor b) =>
        a.shape.SequenceEqual(b.shape) && a.eq(b).all().item<bool>();
}
