using System.Buffers.Binary;
using System.IO.Compression;
using System.Numerics;

namespace SegHelpers.Model.Weights;

/// <summary>
/// Reads <c>torch.save</c> files without Python: the zip archive (PyTorch ≥ 1.6: <c>*/data.pkl</c> plus one
/// <c>*/data/KEY</c> entry per storage) and the legacy format (torchvision's older downloads such as
/// <c>vgg16-397923af.pth</c>: five pickles — magic number, protocol, system info, the object, storage keys —
/// followed by each storage as an int64 element count and raw bytes). The object is read with
/// <see cref="RestrictedUnpickler"/>, so nothing in the file can run code.
/// </summary>
internal static class PyTorchFile
{
    static readonly BigInteger LegacyMagic = BigInteger.Parse("119547037146038801333356");

    /// <summary>The tensors of the state dict in the zip archive <paramref name="path"/>.</summary>
    public static (object? Root, string Format) ReadZip(string path)
    {
        using var archive = ZipFile.OpenRead(path);
        var pickle = archive.Entries.FirstOrDefault(e => e.FullName.EndsWith("data.pkl", StringComparison.Ordinal) && e.FullName.Count(c => c == '/') == 1)
            ?? throw new FormatException("zip archive has no */data.pkl entry, so it is not a torch.save file");
        string prefix = pickle.FullName[..^"data.pkl".Length];
        var byteOrder = archive.GetEntry(prefix + "byteorder");
        if (byteOrder is not null && ReadAll(byteOrder) is var order && System.Text.Encoding.ASCII.GetString(order) != "little")
            throw new FormatException("tensors are stored big-endian; re-save the file on a little-endian machine");
        var storages = new Dictionary<string, TensorStorage>();
        var unpickler = new RestrictedUnpickler(ReadAll(pickle), id =>
        {
            var (type, key, count) = StorageId(id);
            if (storages.TryGetValue(key, out var known))
                return known;
            var entry = archive.GetEntry($"{prefix}data/{key}")
                ?? throw new FormatException($"storage {key} is referenced but the archive has no {prefix}data/{key}");
            long expected = count * DTypes.Size(type);
            if (entry.Length != expected)
                throw new FormatException($"storage {prefix}data/{key} holds {entry.Length} bytes; its tensors need {expected}");
            return storages[key] = TensorStorage.FromBytes(type, ReadAll(entry));
        });
        return (unpickler.Load(), "pytorch-zip");
    }

    /// <summary>True when <paramref name="header"/> starts like a legacy <c>torch.save</c> file.</summary>
    public static bool LooksLegacy(ReadOnlySpan<byte> header) => header.Length >= 2 && header[0] == 0x80 && header[1] == 0x02;

    /// <summary>The object in the legacy-format file <paramref name="path"/>.</summary>
    public static (object? Root, string Format) ReadLegacy(string path)
    {
        var bytes = File.ReadAllBytes(path);
        var memory = new ReadOnlyMemory<byte>(bytes);
        var pending = new Dictionary<string, (TensorStorage Storage, byte[] Buffer)>();
        var unpickler = new RestrictedUnpickler(memory, id =>
        {
            var (type, key, count) = StorageId(id);
            if (pending.TryGetValue(key, out var known))
                return known.Storage;
            long length = count * DTypes.Size(type);
            if (length > bytes.Length)
                throw new FormatException($"storage {key} claims {length} bytes, more than the whole file");
            var buffer = new byte[length];
            var storage = TensorStorage.FromBytes(type, buffer);
            pending[key] = (storage, buffer);
            return storage;
        });
        if (unpickler.Load() is not BigInteger magic || magic != LegacyMagic)
            throw new FormatException("the first pickle is not PyTorch's magic number");
        if (unpickler.Load() is not long protocol || protocol != 1001)
            throw new FormatException("unsupported legacy protocol version");
        unpickler.Load(); // system info: byte order and type sizes, checked through the storage sizes below
        var root = unpickler.Load();
        if (unpickler.Load() is not List<object?> keys)
            throw new FormatException("the storage key list is missing");
        int position = unpickler.Position;
        foreach (var keyObject in keys)
        {
            string key = keyObject as string ?? throw new FormatException("a storage key is not a string");
            if (!pending.TryGetValue(key, out var slot))
                throw new FormatException($"storage {key} is in the file but no tensor uses it");
            if (position + 8 > bytes.Length)
                throw new FormatException($"file ends before storage {key}");
            long count = BinaryPrimitives.ReadInt64LittleEndian(bytes.AsSpan(position, 8));
            position += 8;
            if (count * DTypes.Size(slot.Storage.DType) != slot.Buffer.Length)
                throw new FormatException($"storage {key} holds {count} elements; its tensors need {slot.Storage.Count}");
            if (position + slot.Buffer.Length > bytes.Length)
                throw new FormatException($"file ends inside storage {key}");
            bytes.AsSpan(position, slot.Buffer.Length).CopyTo(slot.Buffer);
            position += slot.Buffer.Length;
        }
        if (keys.Count != pending.Count)
            throw new FormatException($"{pending.Count} storages are referenced but {keys.Count} are stored");
        return (root, "pytorch-legacy");
    }

    /// <summary>Decodes a persistent id <c>('storage', torch.FloatStorage, key, location, numel[, view])</c>.</summary>
    static (TorchSharp.torch.ScalarType Type, string Key, long Count) StorageId(object?[] id)
    {
        if (id.Length < 5 || id[0] is not string { } kind || kind != "storage" || id[1] is not RestrictedUnpickler.Global type || id[2] is not string key)
            throw new FormatException("a persistent id is not a tensor storage");
        if (id.Length > 5 && id[5] is not null)
            throw new FormatException("storage views (PyTorch < 0.4) are not supported; re-save the file with a current PyTorch");
        var dtype = DTypes.FromStorageClass(type.Name) ?? throw new FormatException($"unknown storage type {type.FullName}");
        long count = id[4] is long n && n >= 0 ? n : throw new FormatException($"storage {key} has no element count");
        return (dtype, key, count);
    }

    static byte[] ReadAll(ZipArchiveEntry entry)
    {
        using var stream = entry.Open();
        var buffer = new byte[entry.Length];
        stream.ReadExactly(buffer);
        return buffer;
    }
}
