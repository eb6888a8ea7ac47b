using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using static TorchSharp.torch;

namespace SegHelpers.Model.Weights;

/// <summary>
/// The safetensors format (huggingface/safetensors): an 8-byte little-endian header length, a JSON header
/// <c>{"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, "__metadata__": {..}}</c>,
/// then the raw little-endian tensor data. It holds no code, so reading it is safe by construction; the
/// reader still checks every offset against the file.
/// </summary>
public static class Safetensors
{
    const long MaxHeader = 100_000_000;

    /// <summary>True when <paramref name="header"/> (a file's first 9 bytes or more) starts like safetensors.</summary>
    public static bool Looks(ReadOnlySpan<byte> header) =>
        header.Length >= 9 && BinaryPrimitives.ReadUInt64LittleEndian(header) is > 1 and < MaxHeader && header[8] == (byte)'{';

    /// <summary>Reads the tensors and the <c>__metadata__</c> strings of <paramref name="path"/>.</summary>
    /// <exception cref="FormatException">The header or an offset is invalid.</exception>
    internal static (List<TensorEntry> Tensors, Dictionary<string, string> Metadata) Read(string path)
    {
        var bytes = File.ReadAllBytes(path);
        if (bytes.Length < 8)
            throw new FormatException("file is shorter than the 8-byte header length");
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        if (headerLength > MaxHeader || 8 + (long)headerLength > bytes.Length)
            throw new FormatException($"header length {headerLength} does not fit the {bytes.Length}-byte file");
        JsonObject header;
        try
        {
            header = JsonNode.Parse(bytes.AsSpan(8, (int)headerLength)) as JsonObject
                ?? throw new FormatException("header is not a JSON object");
        }
        catch (JsonException e)
        {
            throw new FormatException($"header is not valid JSON ({e.Message})");
        }
        var data = new ReadOnlyMemory<byte>(bytes, 8 + (int)headerLength, bytes.Length - 8 - (int)headerLength);
        var metadata = new Dictionary<string, string>();
        var tensors = new List<TensorEntry>();
        var ranges = new List<(long Begin, long End, string Name)>();
        foreach (var (name, node) in header)
        {
            if (name == "__metadata__")
            {
                foreach (var (key, value) in node as JsonObject ?? throw new FormatException("__metadata__ is not an object"))
                    metadata[key] = value is JsonValue v && v.TryGetValue(out string? text) ? text : throw new FormatException($"metadata {key} is not a string");
                continue;
            }
            try
            {
                var info = node as JsonObject ?? throw new FormatException("not an object");
                string code = info["dtype"]?.GetValue<string>() ?? throw new FormatException("no dtype");
                var dtype = DTypes.FromSafetensors(code) ?? throw new FormatException($"dtype {code} is not supported");
                long[] shape = (info["shape"] as JsonArray ?? throw new FormatException("no shape")).Select(n => n!.GetValue<long>()).ToArray();
                long[] offsets = (info["data_offsets"] as JsonArray ?? throw new FormatException("no data_offsets")).Select(n => n!.GetValue<long>()).ToArray();
                if (offsets.Length != 2 || offsets[0] < 0 || offsets[1] < offsets[0] || offsets[1] > data.Length)
                    throw new FormatException($"data_offsets [{string.Join(", ", offsets)}] fall outside the {data.Length} data bytes");
                if (shape.Any(s => s < 0))
                    throw new FormatException("negative dimension");
                long expected = shape.Aggregate(1L, (a, b) => a * b) * DTypes.Size(dtype);
                if (offsets[1] - offsets[0] != expected)
                    throw new FormatException($"holds {offsets[1] - offsets[0]} bytes but {code} [{string.Join(", ", shape)}] needs {expected}");
                var storage = TensorStorage.FromBytes(dtype, data.Slice((int)offsets[0], (int)(offsets[1] - offsets[0])));
                tensors.Add(new TensorEntry(name, storage, 0, shape, DTypes.ContiguousStride(shape)));
                ranges.Add((offsets[0], offsets[1], name));
            }
            catch (Exception e) when (e is InvalidOperationException or FormatException)
            {
                throw new FormatException($"tensor '{name}': {e.Message}");
            }
        }
        ranges.Sort();
        for (int i = 1; i < ranges.Count; i++)
            if (ranges[i].Begin < ranges[i - 1].End)
                throw new FormatException($"tensors '{ranges[i - 1].Name}' and '{ranges[i].Name}' overlap");
        return (tensors, metadata);
    }

    /// <summary>
    /// Writes <paramref name="tensors"/> (any device, any layout) and <paramref name="metadata"/> to
    /// <paramref name="path"/> atomically, in name order, so PyTorch's <c>safetensors.torch.load_file</c> reads it.
    /// </summary>
    public static void Write(string path, IEnumerable<(string Name, Tensor Tensor)> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var ordered = tensors.OrderBy(t => t.Name, StringComparer.Ordinal).ToList();
        var header = new JsonObject();
        if (metadata is { Count: > 0 })
            header["__metadata__"] = new JsonObject(metadata.OrderBy(m => m.Key, StringComparer.Ordinal)
                .Select(m => KeyValuePair.Create(m.Key, (JsonNode?)JsonValue.Create(m.Value))));
        long offset = 0;
        foreach (var (name, tensor) in ordered)
        {
            long length = tensor.numel() * DTypes.Size(tensor.dtype);
            header[name] = new JsonObject
            {
                ["dtype"] = DTypes.SafetensorsName(tensor.dtype),
                ["shape"] = new JsonArray(tensor.shape.Select(s => (JsonNode?)JsonValue.Create(s)).ToArray()),
                ["data_offsets"] = new JsonArray(offset, offset + length),
            };
            offset += length;
        }
        var json = Encoding.UTF8.GetBytes(header.ToJsonString());
        int padded = (json.Length + 7) / 8 * 8;
        AtomicFile.Write(path, stream =>
        {
            Span<byte> length = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)padded);
            stream.Write(length);
            stream.Write(json);
            for (int i = json.Length; i < padded; i++)
                stream.WriteByte((byte)' ');
            foreach (var (_, tensor) in ordered)
            {
                using var scope = NewDisposeScope();
                var cpu = tensor.detach().cpu().contiguous();
                if (cpu.numel() > 0)
                    stream.Write(cpu.bytes);
            }
        });
    }
}
