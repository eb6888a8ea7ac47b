using System.Collections;
using System.IO.Compression;

namespace SegHelpers.Model.Weights;

/// <summary>
/// The named tensors of a weight file: PyTorch <c>.pth</c>/<c>.pt</c> (zip or legacy format, read by a
/// restricted unpickler that refuses anything but tensors), or safetensors. The format is recognised from
/// the file's first bytes, not its extension.
/// </summary>
public sealed class StateDict : IReadOnlyList<TensorEntry>
{
    readonly List<TensorEntry> _tensors;
    readonly Dictionary<string, TensorEntry> _byName;

    StateDict(string path, string format, List<TensorEntry> tensors, IReadOnlyDictionary<string, string> metadata, IReadOnlyList<string> skipped, string? unwrapped)
    {
        Path = path;
        Format = format;
        _tensors = tensors;
        _byName = tensors.ToDictionary(t => t.Name);
        Metadata = metadata;
        Skipped = skipped;
        Unwrapped = unwrapped;
    }

    /// <summary>The file read.</summary>
    public string Path { get; }

    /// <summary><c>pytorch-zip</c>, <c>pytorch-legacy</c> or <c>safetensors</c>.</summary>
    public string Format { get; }

    /// <summary>safetensors <c>__metadata__</c> strings (empty for PyTorch files).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>Entries of the file that are not tensors (e.g. an epoch number saved beside the weights).</summary>
    public IReadOnlyList<string> Skipped { get; }

    /// <summary>The key the tensors were found under when the file wraps them (e.g. <c>state_dict</c>), else null.</summary>
    public string? Unwrapped { get; }

    /// <inheritdoc />
    public int Count => _tensors.Count;

    /// <inheritdoc />
    public TensorEntry this[int index] => _tensors[index];

    /// <summary>The tensor named <paramref name="name"/>, or null.</summary>
    public TensorEntry? Find(string name) => _byName.GetValueOrDefault(name);

    /// <summary>Total elements over all tensors.</summary>
    public long ElementCount => _tensors.Sum(t => t.Count);

    /// <summary>The tensors <paramref name="keep"/> accepts, with the same file information.</summary>
    public StateDict Where(Func<TensorEntry, bool> keep) =>
        new(Path, Format, _tensors.Where(keep).ToList(), Metadata, Skipped, Unwrapped);

    /// <inheritdoc />
    public IEnumerator<TensorEntry> GetEnumerator() => _tensors.GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary>Reads a weight file.</summary>
    /// <exception cref="BadInputException">The file is missing, corrupt, of an unknown format, or asks to run code.</exception>
    public static StateDict Read(string path)
    {
        if (!File.Exists(path))
            throw new BadInputException(path, "weight file does not exist", "check the path; torchvision's VGG16 weights are vgg16-397923af.pth");
        var head = new byte[16];
        int read;
        using (var stream = File.OpenRead(path))
            read = stream.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        var span = head.AsSpan(0, read);
        string kind = span.StartsWith("PK\u0003\u0004"u8) ? "pytorch-zip"
            : Safetensors.Looks(span) ? "safetensors"
            : PyTorchFile.LooksLegacy(span) ? "pytorch-legacy"
            : throw new BadInputException(path, "is neither a PyTorch (.pth/.pt) nor a safetensors file",
                "pass a file written by torch.save or safetensors; if it was downloaded, download it again");
        try
        {
            if (kind == "safetensors")
            {
                var (tensors, metadata) = Safetensors.Read(path);
                return new StateDict(path, kind, tensors, metadata, [], null);
            }
            var (root, format) = kind == "pytorch-zip" ? PyTorchFile.ReadZip(path) : PyTorchFile.ReadLegacy(path);
            return FromPickle(path, format, root);
        }
        catch (UnsafePickleException e)
        {
            throw new BadInputException(path,
                $"refused to load: the pickle asks for '{e.Global}', which a weights file never needs ({RestrictedUnpickler.AllowedDescription}); nothing in the file was run",
                "this file may be malicious; use weights only from a source you trust, or a safetensors copy");
        }
        catch (Exception e) when (e is FormatException or InvalidDataException or EndOfStreamException or NotSupportedException)
        {
            throw new BadInputException(path, $"is not a valid {kind} file ({e.Message})", "the file is corrupt or truncated; download or save it again");
        }
    }

    static StateDict FromPickle(string path, string format, object? root)
    {
        if (root is not RestrictedUnpickler.Dict dict)
            throw new FormatException($"it holds a {root?.GetType().Name ?? "None"}, not a dict of tensors");
        string? unwrapped = null;
        if (!dict.Any(p => p.Value is TensorEntry))
        {
            foreach (string key in new[] { "state_dict", "model_state_dict", "model" })
            {
                if (dict.FirstOrDefault(p => Equals(p.Key, key)).Value is RestrictedUnpickler.Dict inner && inner.Any(p => p.Value is TensorEntry))
                {
                    unwrapped = key;
                    dict = inner;
                    break;
                }
            }
        }
        var tensors = new List<TensorEntry>();
        var skipped = new List<string>();
        Flatten(dict, "", tensors, skipped);
        if (tensors.Count == 0)
            throw new FormatException("it holds no tensors");
        var duplicates = tensors.GroupBy(t => t.Name).FirstOrDefault(g => g.Count() > 1);
        if (duplicates is not null)
            throw new FormatException($"tensor name '{duplicates.Key}' appears twice");
        return new StateDict(path, format, tensors, new Dictionary<string, string>(), skipped, unwrapped);
    }

    static void Flatten(RestrictedUnpickler.Dict dict, string prefix, List<TensorEntry> tensors, List<string> skipped)
    {
        foreach (var (key, value) in dict)
        {
            string name = prefix + Convert.ToString(key, System.Globalization.CultureInfo.InvariantCulture);
            switch (value)
            {
                case TensorEntry tensor:
                    tensors.Add(tensor.Rename(name));
                    break;
                case RestrictedUnpickler.Dict inner:
                    Flatten(inner, name + ".", tensors, skipped);
                    break;
                default:
                    skipped.Add(name);
                    break;
            }
        }
    }
}
