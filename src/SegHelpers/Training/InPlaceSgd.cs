using SegHelpers.Native;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace SegHelpers.Training;

public static partial class InPlace
{
    /// <summary>
    /// TorchSharp's <see cref="TorchSharp.Modules.SGD"/> with the same arithmetic, state and checkpoint format (hence the name).
    /// TorchSharp's step hands libtorch its learning rate, momentum, dampening and weight decay as temporary Scalars that a
    /// garbage collection can free during the call (<see cref="Scalars"/>); here every Scalar outlives its call, and the
    /// weight-decayed gradient goes into one reused scratch buffer instead of a new tensor per parameter.
    /// </summary>
    public sealed class SGD : TorchSharp.Modules.SGD
    {
        readonly ScratchBuffer _scratch = new();

        /// <summary>SGD over <paramref name="parameters"/>, as <c>optim.SGD</c> takes them.</summary>
        public SGD(IEnumerable<Parameter> parameters, double lr, double momentum = 0, double dampening = 0, double weightDecay = 0, bool nesterov = false)
            : base(parameters, lr, momentum, dampening, weightDecay, nesterov)
        {
        }

        /// <inheritdoc />
        public override Tensor step(Func<Tensor>? closure = null) => _step<ParamGroup>(group =>
        {
            var options = group.Options;
            double momentum = options.momentum!.Value, dampening = options.dampening!.Value, weightDecay = options.weight_decay!.Value;
            bool nesterov = options.nesterov!.Value;
            double lr = options.LearningRate!.Value;
            using var decay = weightDecay.ToScalar();
            using var mu = momentum.ToScalar();
            using var undamped = (1 - dampening).ToScalar();
            using var step = (options.maximize == true ? lr : -lr).ToScalar();
            foreach (var param in group.Parameters)
            {
                if (param.grad is not { } grad)
                    continue;
                var state = (State)_state[param.Handle];
                var update = weightDecay != 0 ? _scratch.Like(param, parameters()).copy_(grad).add_(param, alpha: decay) : grad;
                if (momentum != 0)
                {
                    if (state.momentum_buffer is not { } buffer)
                        state.momentum_buffer = buffer = update.clone().detach().DetachFromDisposeScope();
                    else
                        buffer.mul_(mu).add_(update, alpha: undamped);
                    update = nesterov ? (ReferenceEquals(update, grad) ? _scratch.Like(param, parameters()).copy_(grad) : update).add_(buffer, alpha: mu) : buffer;
                }
                param.add_(update, alpha: step);
            }
        }, closure);

        /// <inheritdoc />
        protected override void Dispose(bool disposing)
        {
            if (disposing)
                _scratch.Dispose();
            base.Dispose(disposing);
        }
    }
}
