using SegHelpers.Model;
using SegHelpers.Native;
using static TorchSharp.torch;

namespace SegHelpers.Training;

/// <summary>
/// Mixed-precision training without autocast (TorchSharp has none), with fp32 master weights: the model itself stays fp32
/// and is what the optimizer steps, checkpoints save and validation runs. Forward and backward go through a bf16 or fp16
/// working copy of the encoder (<see cref="Vgg16Encoder.LowPrecisionCopy"/>) in front of the model's fp32 decoder, so the
/// logits, softmax and loss are fp32 and the gradient entering the encoder is computed in fp32 at the boundary and only then
/// cast. After backward the working gradients are copied into the masters as fp32 (divided by the loss scale for fp16);
/// after the step the working copy is refreshed from the masters.
/// The decoder is not copied: its score layers and upsamplers cost almost nothing (one channel per class), and libtorch's
/// low-precision kernels for so few channels return garbage on some CPUs (see <see cref="LowPrecisionCheck"/>).
/// </summary>
public sealed class MixedPrecision : IDisposable
{
    readonly Fcn _master;
    readonly Device _device;
    Vgg16Encoder? _working;
    (Tensor Master, Tensor Working)[] _pairs = [];
    bool _training = true, _trainable = true;

    /// <summary>A working copy of <paramref name="master"/>'s encoder in <paramref name="dtype"/> on <paramref name="device"/>.</summary>
    public MixedPrecision(Fcn master, ScalarType dtype, Device device)
    {
        if (dtype is not (ScalarType.BFloat16 or ScalarType.Float16))
            throw new ArgumentException($"mixed precision is bf16 or fp16, not {dtype}", nameof(dtype));
        _master = master;
        _device = device;
        DType = dtype;
        _ = Working;
        Scaler = dtype == ScalarType.Float16 ? new LossScaler() : null;
    }

    /// <summary>The working precision.</summary>
    public ScalarType DType { get; }

    /// <summary>The loss scaler (fp16 only).</summary>
    public LossScaler? Scaler { get; set; }

    /// <summary>The low-precision working copy of the encoder (made again from the masters after <see cref="ReleaseWorking"/>).</summary>
    public Vgg16Encoder Working
    {
        get
        {
            if (_working is null)
            {
                _working = _master.Encoder.LowPrecisionCopy(DType, _device);
                _pairs = [.. _master.Encoder.parameters().Zip(_working.parameters())];
                _working.train(_training);
                foreach (var (_, working) in _pairs)
                    working.requires_grad = _trainable;
            }
            return _working;
        }
    }

    /// <summary>
    /// Frees the working copy (and its gradients) while only the masters are needed, e.g. during validation, so that bf16
    /// training peaks no higher than fp32; the next use makes it again from the masters.
    /// </summary>
    public void ReleaseWorking()
    {
        _working?.Dispose();
        _working = null;
        _pairs = [];
    }

    /// <summary>Logits (fp32) of <paramref name="images"/> through the working encoder and the master decoder.</summary>
    public Tensor Forward(Tensor images) => _master.Forward(Working, images);

    /// <summary>The loss to call backward on: multiplied by the loss scale for fp16.</summary>
    public Tensor ScaleForBackward(Tensor loss) => Scaler is { } s ? loss.Times(s.Scale) : loss;

    /// <summary>
    /// Copies the working encoder's gradients into the masters as fp32, and with a loss scale divides every gradient, the
    /// decoder's included, by it. Clears the working gradients.
    /// </summary>
    public void GradientsToMasters()
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        foreach (var (master, working) in _pairs)
        {
            if (working.grad is not { } grad)
                continue;
            if (master.grad is { } existing)
                existing.copy_(grad);
            else
                master.grad = grad.to(ScalarType.Float32).MoveToOuterDisposeScope();
        }
        _working?.zero_grad();
        if (Scaler is { } s)
            foreach (var g in _master.parameters().Select(p => p.grad).OfType<Tensor>())
                g.OverInPlace(s.Scale);
    }

    /// <summary>
    /// The optimizer step after backward: gradients to the masters (<see cref="GradientsToMasters"/>); if all are finite, the
    /// step on the masters and the working copy refreshed. With fp16 the scaler learns whether they were. Returns false when
    /// the step was skipped for infinite or NaN gradients.
    /// </summary>
    public bool Step(TorchSharp.torch.optim.Optimizer optimizer)
    {
        GradientsToMasters();
        bool finite = GradientsFinite(_master.parameters());
        if (Scaler is { } scaler)
            Scaler = scaler.After(finite);
        if (!finite)
            return false;
        optimizer.step();
        RefreshWorking();
        return true;
    }

    /// <summary>
    /// Largest relative error of a working-copy gradient accepted by <see cref="GradientErrors"/>'s guard. Sound bf16 kernels land
    /// at 0.01–0.2 against float64 (the first layers' gradients pass back through all the others, losing bits at each); the
    /// broken ones seen are off by 1 or more, up to 1e38 (libtorch 2.10's bf16 weight gradient of fc6 on 1×3 and 2×6 inputs, in
    /// some passes only, on an AMD EPYC with AVX512-BF16; sound on 3×10 and 5×18, i.e. 96×320 and 160×576 images).
    /// </summary>
    public const double GradientTolerance = 0.5;

    /// <summary>
    /// The run-time guard on the real shapes: each encoder parameter's gradient on <paramref name="images"/> from the working copy
    /// against the fp32 model's, as relative L2 errors (the worst of <paramref name="repeats"/> passes), dropout off. libtorch's
    /// low-precision kernels can be wrong for some input sizes only, and only now and then, which a check on small inputs
    /// (<see cref="LowPrecisionCheck"/>) cannot see. Leaves no gradients behind.
    /// </summary>
    public IReadOnlyList<(string Name, double Error)> GradientErrors(Tensor images, Tensor masks, RoadLoss loss, int repeats = 3)
    {
        using var scope = NewDisposeScope();
        bool training = _master.training;
        _master.eval();
        Working.eval();
        try
        {
            // Each pass in a scope of its own: a pass's activations are held by their handles until its scope ends.
            List<Tensor?> reference;
            using (NewDisposeScope())
            {
                _master.zero_grad();
                loss.Compute(_master.call(images), masks).backward();
                reference = [.. _master.Encoder.parameters().Select(p => p.grad?.clone().MoveToOuterDisposeScope())];
            }
            var worst = new double[reference.Count];
            for (int r = 0; r < repeats; r++)
            {
                using var pass = NewDisposeScope();
                _master.zero_grad();
                Working.zero_grad();
                loss.Compute(Forward(images), masks).backward();
                int i = 0;
                foreach (var working in Working.parameters())
                {
                    if (reference[i] is { } expected && working.grad is { } actual)
                    {
                        using var compare = NewDisposeScope();
                        worst[i] = Math.Max(worst[i], LowPrecisionCheck.RelativeError(actual.to(ScalarType.Float64), expected.to(ScalarType.Float64)));
                    }
                    i++;
                }
            }
            return [.. _master.Encoder.named_parameters().Select((p, i) => (p.name, worst[i]))];
        }
        finally
        {
            _master.zero_grad();
            Working.zero_grad();
            _master.train(training);
            Working.train(_training);
        }
    }

    /// <summary>True when every gradient of <paramref name="parameters"/> is finite (or there are none).</summary>
    public static bool GradientsFinite(IEnumerable<Tensor> parameters)
    {
        using var scope = NewDisposeScope();
        var norms = parameters.Select(p => p.grad).OfType<Tensor>().Select(g => g.norm().to(ScalarType.Float32)).ToList();
        return norms.Count == 0 || stack(norms).sum().isfinite().item<bool>();
    }

    /// <summary>Copies the masters, after the optimizer's step, into the working copy.</summary>
    public void RefreshWorking() => _working?.CopyWeightsFrom(_master.Encoder);

    /// <summary>Whether the working copy's encoder trains: set it as the masters' is set.</summary>
    public void SetTrainable(bool trainable)
    {
        _trainable = trainable;
        foreach (var (_, working) in _pairs)
            working.requires_grad = trainable;
    }

    /// <summary>Training or evaluation mode for the working copy (dropout).</summary>
    public void Train(bool training)
    {
        _training = training;
        _working?.train(training);
    }

    /// <inheritdoc />
    public void Dispose() => ReleaseWorking();
}
