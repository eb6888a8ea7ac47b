using static TorchSharp.torch;

namespace SegHelpers.Model.Weights;

/// <summary>Element types as PyTorch pickles and safetensors name them.</summary>
internal static class DTypes
{
    static readonly (ScalarType Type, int Size, string Name, string Safetensors, string Storage)[] Table =
    [
        (ScalarType.Float32, 4, "float32", "F32", "FloatStorage"),
        (ScalarType.Float64, 8, "float64", "F64", "DoubleStorage"),
        (ScalarType.Float16, 2, "float16", "F16", "HalfStorage"),
        (ScalarType.BFloat16, 2, "bfloat16", "BF16", "BFloat16Storage"),
        (ScalarType.Int64, 8, "int64", "I64", "LongStorage"),
        (ScalarType.Int32, 4, "int32", "I32", "IntStorage"),
        (ScalarType.Int16, 2, "int16", "I16", "ShortStorage"),
        (ScalarType.Int8, 1, "int8", "I8", "CharStorage"),
        (ScalarType.Byte, 1, "uint8", "U8", "ByteStorage"),
        (ScalarType.Bool, 1, "bool", "BOOL", "BoolStorage"),
    ];

    public static int Size(ScalarType type) => Find(type).Size;

    public static string Name(ScalarType type) => Find(type).Name;

    public static string SafetensorsName(ScalarType type) => Find(type).Safetensors;

    public static ScalarType? FromSafetensors(string code) =>
        Table.Where(t => t.Safetensors == code).Select(t => (ScalarType?)t.Type).FirstOrDefault();

    /// <summary>The element type of a typed storage class such as <c>torch.FloatStorage</c>.</summary>
    public static ScalarType? FromStorageClass(string name) =>
        Table.Where(t => t.Storage == name).Select(t => (ScalarType?)t.Type).FirstOrDefault();

    public static IEnumerable<string> StorageClasses => Table.Select(t => t.Storage);

    public static long[] ContiguousStride(long[] shape)
    {
        var stride = new long[shape.Length];
        long step = 1;
        for (int d = shape.Length - 1; d >= 0; d--)
        {
            stride[d] = step;
            step *= Math.Max(shape[d], 1);
        }
        return stride;
    }

    static (ScalarType Type, int Size, string Name, string Safetensors, string Storage) Find(ScalarType type)
    {
        foreach (var row in Table)
            if (row.Type == type)
                return row;
        throw new NotSupportedException($"element type {type} is not supported in weight files");
    }
}
