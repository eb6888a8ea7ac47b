using SegHelpers.Native;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace SegHelpers.Model;

/// <summary>
/// Dropout that draws from its own generator rather than libtorch's process-wide one, so a model's masks depend only on its
/// seed: two models training at once in one process (parallel tests, two notebooks in one kernel) cannot change each other's
/// numbers, and the generator's state (on whatever device the model runs) goes into a checkpoint for an exact resume.
/// Modules that share a <see cref="DropoutNoise"/> draw from one stream.
/// </summary>
public sealed class SeededDropout : Module<Tensor, Tensor>
{
    readonly double _p;
    readonly DropoutNoise _noise;

    /// <summary>Zeroes each element with probability <paramref name="p"/> in training, scaling the rest by 1/(1 − p).</summary>
    public SeededDropout(double p, DropoutNoise noise) : base(nameof(SeededDropout))
    {
        if (p is < 0 or >= 1)
            throw new ArgumentOutOfRangeException(nameof(p), p, "dropout must be in [0, 1)");
        _p = p;
        _noise = noise;
    }

    /// <summary>The probability of zeroing an element.</summary>
    public double P => _p;

    /// <inheritdoc />
    public override Tensor forward(Tensor input)
    {
        if (!training || _p == 0)
            return input;
        var keep = empty_like(input).bernoulli_(1 - _p, _noise.For(input.device));
        return input * keep.OverInPlace(1 - _p);
    }
}

/// <summary>The random stream behind one model's <see cref="SeededDropout"/> layers: seeded, on the model's device, with a saveable state.</summary>
public sealed class DropoutNoise : IDisposable
{
    Generator? _generator;
    long _seed;

    /// <summary>A stream starting from <paramref name="seed"/>.</summary>
    public DropoutNoise(long seed) => _seed = seed;

    /// <summary>Starts the stream again from <paramref name="seed"/>.</summary>
    public void Reseed(long seed)
    {
        _seed = seed;
        _generator?.manual_seed(seed);
    }

    /// <summary>The generator's state, for a checkpoint.</summary>
    public Tensor GetState(Device device) => For(device).get_state();

    /// <summary>Restores a state from <see cref="GetState"/>.</summary>
    public void SetState(Device device, Tensor state) => For(device).set_state(state);

    internal Generator For(Device device)
    {
        if (_generator is null || _generator.device.type != device.type || _generator.device.index != device.index)
        {
            _generator?.Dispose();
            _generator = new Generator(unchecked((ulong)_seed), device);
        }
        return _generator;
    }

    /// <inheritdoc />
    public void Dispose() => _generator?.Dispose();
}
