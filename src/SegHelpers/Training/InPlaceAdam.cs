using TorchSharp.Modules;
using static TorchSharp.torch;

namespace SegHelpers.Training;

/// <summary>Optimizers whose step runs in place.</summary>
public static class InPlace
{
    /// <summary>
    /// TorchSharp's <see cref="TorchSharp.Modules.Adam"/> with the same arithmetic, state and checkpoint format, but a step that allocates nothing:
    /// TorchSharp's step makes three temporaries the size of each parameter (the weight-decayed gradient, √v and √v / √(1 − β₂ᵗ)),
    /// 1.2 GB for fc6 alone, and on a 2-core CPU that allocation cost more than the arithmetic (3.8–4.0 s against 0.21–0.27 s for
    /// the same update in place, 134 M parameters). Here one scratch buffer the size of the largest parameter is reused.
    /// AMSGrad and maximize are not supported. The class is named <c>Adam</c> because TorchSharp writes and checks the optimizer's
    /// type name in its state: checkpoints of either load into the other.
    /// </summary>
    public sealed class Adam : TorchSharp.Modules.Adam
    {
        Tensor? _scratch;

        /// <summary>Adam over <paramref name="parameters"/>, as <c>optim.Adam</c> takes them.</summary>
        public Adam(IEnumerable<Parameter> parameters, double lr, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8, double weightDecay = 0)
            : base(parameters, lr, beta1, beta2, eps, weightDecay)
        {
        }

        /// <inheritdoc />
        public override Tensor step(Func<Tensor>? closure = null) => _step<ParamGroup>(group =>
        {
            var options = (Options)group.Options;
            double beta1 = options.beta1!.Value, beta2 = options.beta2!.Value, weightDecay = options.weight_decay!.Value;
            double eps = options.eps!.Value, lr = options.LearningRate!.Value;
            if (options.amsgrad == true || options.maximize == true)
                throw new NotSupportedException("InPlace.Adam does not do AMSGrad or maximize; use optim.Adam");
            using var _ = no_grad();
            foreach (var param in group.Parameters)
            {
                if (param.grad is not { } grad)
                    continue;
                var state = (State)_state[param.Handle];
                state.step += 1;
                double biasCorrection1 = 1 - Math.Pow(beta1, state.step);
                double biasCorrection2 = 1 - Math.Pow(beta2, state.step);
                var scratch = Scratch(param);
                if (weightDecay != 0)
                    grad = scratch.copy_(grad).add_(param, alpha: weightDecay);
                state.exp_avg.mul_(beta1).add_(grad, alpha: 1 - beta1);
                state.exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value: 1 - beta2);
                var denom = scratch.copy_(state.exp_avg_sq).sqrt_().div_(Math.Sqrt(biasCorrection2)).add_(eps);
                param.addcdiv_(state.exp_avg, denom, value: -lr / biasCorrection1);
            }
        }, closure);

        /// <summary>A view of the shared scratch buffer with <paramref name="like"/>'s shape, type and device.</summary>
        Tensor Scratch(Tensor like)
        {
            if (_scratch is null || _scratch.numel() < like.numel() || _scratch.dtype != like.dtype || _scratch.device_type != like.device_type || _scratch.device_index != like.device_index)
            {
                long size = Math.Max(like.numel(), _parameter_groups.SelectMany(g => g.Parameters).Where(p => p.dtype == like.dtype).Max(p => p.numel()));
                _scratch?.Dispose();
                _scratch = empty(size, like.dtype, like.device).DetachFromDisposeScope();
            }
            return _scratch.narrow(0, 0, like.numel()).view(like.shape);
        }

        /// <inheritdoc />
        protected override void Dispose(bool disposing)
        {
            if (disposing)
                _scratch?.Dispose();
            base.Dispose(disposing);
        }
    }
}
