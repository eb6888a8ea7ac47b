using static TorchSharp.torch;

namespace SegHelpers.Training;

/// <summary>One buffer, as large as the largest parameter of its type, lent out as each parameter's temporary in an optimizer step.</summary>
sealed class ScratchBuffer : IDisposable
{
    Tensor? _buffer;

    /// <summary>A view of the buffer with <paramref name="like"/>'s shape, type and device; <paramref name="parameters"/> size it.</summary>
    public Tensor Like(Tensor like, IEnumerable<Tensor> parameters)
    {
        if (_buffer is null || _buffer.numel() < like.numel() || _buffer.dtype != like.dtype || _buffer.device_type != like.device_type || _buffer.device_index != like.device_index)
        {
            long size = Math.Max(like.numel(), parameters.Where(p => p.dtype == like.dtype).Max(p => p.numel()));
            _buffer?.Dispose();
            _buffer = empty(size, like.dtype, like.device).DetachFromDisposeScope();
        }
        return _buffer.narrow(0, 0, like.numel()).view(like.shape);
    }

    /// <inheritdoc />
    public void Dispose() => _buffer?.Dispose();
}
