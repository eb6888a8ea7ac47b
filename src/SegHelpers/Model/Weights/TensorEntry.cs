using TorchSharp;
using static TorchSharp.torch;

namespace SegHelpers.Model.Weights;

/// <summary>
/// One named tensor in a weight file: its element type, shape and where its bytes are. Reading a file
/// builds these without copying tensor data; <see cref="ToTensor"/> materialises one.
/// </summary>
public sealed class TensorEntry
{
    readonly TensorStorage _storage;
    readonly long _offset;
    readonly long[] _stride;

    internal TensorEntry(string name, TensorStorage storage, long offsetElements, long[] shape, long[] stride)
    {
        if (shape.Length != stride.Length || shape.Any(s => s < 0) || stride.Any(s => s < 0) || offsetElements < 0)
            throw new FormatException($"tensor {name} has an invalid shape [{string.Join(", ", shape)}] or stride [{string.Join(", ", stride)}]");
        if (shape.All(s => s > 0))
        {
            long last = offsetElements + shape.Zip(stride, (s, t) => (s - 1) * t).Sum();
            if (last >= storage.Count)
                throw new FormatException($"tensor {name} [{string.Join(", ", shape)}] reaches element {last} of a storage holding {storage.Count}");
        }
        Name = name;
        _storage = storage;
        _offset = offsetElements;
        Shape = shape;
        _stride = stride;
    }

    /// <summary>The key, e.g. <c>features.0.weight</c>.</summary>
    public string Name { get; }

    /// <summary>Element type.</summary>
    public ScalarType DType => _storage.DType;

    /// <summary>The element type as PyTorch spells it (<c>float32</c>, <c>bfloat16</c>…).</summary>
    public string DTypeName => DTypes.Name(DType);

    /// <summary>Size of each dimension.</summary>
    public long[] Shape { get; }

    /// <summary>Number of elements.</summary>
    public long Count => Shape.Aggregate(1L, (a, b) => a * b);

    /// <summary>Bytes of data.</summary>
    public long ByteCount => Count * DTypes.Size(DType);

    /// <summary>The same tensor under another key.</summary>
    public TensorEntry Rename(string name) => new(name, _storage, _offset, Shape, _stride);

    /// <summary>The same data viewed with another shape of the same element count (e.g. a linear layer as a convolution).</summary>
    public TensorEntry Reshape(params long[] shape)
    {
        if (shape.Aggregate(1L, (a, b) => a * b) != Count)
            throw new ArgumentException($"{Name}: cannot view [{string.Join(", ", Shape)}] as [{string.Join(", ", shape)}]");
        var contiguous = TensorStorage.FromBytes(DType, ContiguousBytes());
        return new(Name, contiguous, 0, shape, DTypes.ContiguousStride(shape));
    }

    /// <summary>The elements in row-major order, little-endian.</summary>
    public byte[] ContiguousBytes()
    {
        int size = DTypes.Size(DType);
        var data = _storage.Bytes;
        var result = new byte[ByteCount];
        if (result.Length == 0)
            return result;
        var expected = DTypes.ContiguousStride(Shape);
        if (_stride.SequenceEqual(expected))
        {
            data.Slice((int)(_offset * size), result.Length).CopyTo(result);
            return result;
        }
        var index = new long[Shape.Length];
        for (long i = 0; i < Count; i++)
        {
            long source = _offset;
            for (int d = 0; d < Shape.Length; d++)
                source += index[d] * _stride[d];
            data.Slice((int)(source * size), size).CopyTo(result.AsSpan((int)(i * size), size));
            for (int d = Shape.Length - 1; d >= 0; d--)
            {
                if (++index[d] < Shape[d])
                    break;
                index[d] = 0;
            }
        }
        return result;
    }

    /// <summary>A new CPU tensor holding the data.</summary>
    public Tensor ToTensor()
    {
        var tensor = empty(Shape, DType);
        if (Count > 0)
            tensor.bytes = ContiguousBytes();
        return tensor;
    }

    /// <inheritdoc />
    public override string ToString() => $"{Name} {DTypeName} [{string.Join(", ", Shape)}]";
}

/// <summary>A flat block of tensor data; tensors view it at an offset with strides.</summary>
internal sealed class TensorStorage
{
    readonly ReadOnlyMemory<byte> _bytes;

    TensorStorage(ScalarType dtype, ReadOnlyMemory<byte> bytes)
    {
        DType = dtype;
        Count = bytes.Length / DTypes.Size(dtype);
        _bytes = bytes;
    }

    public ScalarType DType { get; }

    /// <summary>Elements the storage holds.</summary>
    public long Count { get; }

    public ReadOnlySpan<byte> Bytes => _bytes.Span;

    public static TensorStorage FromBytes(ScalarType dtype, ReadOnlyMemory<byte> bytes) => new(dtype, bytes);
}
