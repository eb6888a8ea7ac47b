using TorchSharp;
using static TorchSharp.torch;

namespace SegHelpers.Native;

/// <summary>
/// Tensor arithmetic whose Scalars outlive the libtorch call. TorchSharp 0.107 turns a .NET number given where libtorch wants
/// a Scalar (and the implicit <c>alpha = 1</c> of <c>add</c>, <c>add_</c> and a tensor's <c>+</c>) into a temporary that only
/// its finalizer frees. A garbage collection during the native call can run that finalizer while libtorch still reads the
/// Scalar: libtorch then fails with "Expected false to be true, but got false" (raised in <c>c10::Scalar::toFloat</c>) or,
/// once the memory is reused, computes with another number. Every call this library makes with a Scalar goes through here
/// or keeps its Scalar in a <c>using</c> until the call has returned.
/// </summary>
public static class Scalars
{
    /// <summary>0, kept for the whole process.</summary>
    public static readonly Scalar Zero = 0.ToScalar();

    /// <summary>1, kept for the whole process; the <c>alpha</c> of <see cref="Plus"/>.</summary>
    public static readonly Scalar One = 1.ToScalar();

    /// <summary><paramref name="a"/> + <paramref name="b"/>: the <c>+</c> operator without its temporary.</summary>
    public static Tensor Plus(this Tensor a, Tensor b) => a.add(b, One);

    /// <summary><paramref name="a"/> × <paramref name="value"/>.</summary>
    public static Tensor Times(this Tensor a, double value)
    {
        using var s = value.ToScalar();
        return a.mul(s);
    }

    /// <summary><paramref name="a"/> ÷ <paramref name="value"/>.</summary>
    public static Tensor Over(this Tensor a, double value)
    {
        using var s = value.ToScalar();
        return a.div(s);
    }

    /// <summary><paramref name="a"/> ÷= <paramref name="value"/>, in place.</summary>
    public static Tensor OverInPlace(this Tensor a, double value)
    {
        using var s = value.ToScalar();
        return a.div_(s);
    }

    /// <summary><paramref name="a"/> limited to [<paramref name="min"/>, <paramref name="max"/>].</summary>
    public static Tensor Clamped(this Tensor a, double min, double max)
    {
        using var lo = min.ToScalar();
        using var hi = max.ToScalar();
        return a.clamp(lo, hi);
    }

    /// <summary><paramref name="a"/> limited to [<paramref name="min"/>, <paramref name="max"/>], integer bounds: an integer tensor stays integer.</summary>
    public static Tensor Clamped(this Tensor a, long min, long max)
    {
        using var lo = min.ToScalar();
        using var hi = max.ToScalar();
        return a.clamp(lo, hi);
    }
}
