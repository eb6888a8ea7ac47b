using System.Buffers.Binary;
using System.Numerics;
using System.Text;

namespace SegHelpers.Model.Weights;

/// <summary>
/// A pickle reader that understands only what a PyTorch state dict is made of, the equivalent of
/// <c>torch.load(weights_only=True)</c>: dicts, lists, tuples, numbers, strings, <c>collections.OrderedDict</c>,
/// <c>torch._utils._rebuild_tensor[_v2]</c>, <c>torch._utils._rebuild_parameter</c> and the typed storage
/// classes (<c>torch.FloatStorage</c>…). Any other global (<c>posix.system</c>, <c>builtins.eval</c>…) is
/// refused the moment the pickle names it, before anything could call it; this reader never calls Python
/// code, it only builds data.
/// </summary>
internal sealed class RestrictedUnpickler
{
    /// <summary>A global the pickle named; only allowed ones are ever created.</summary>
    internal sealed record Global(string Module, string Name)
    {
        public string FullName => $"{Module}.{Name}";
    }

    /// <summary>A dict in insertion order, as Python keeps it.</summary>
    internal sealed class Dict : List<KeyValuePair<object?, object?>>
    {
        public void Set(object? key, object? value)
        {
            int i = FindIndex(p => Equals(p.Key, key));
            if (i >= 0)
                this[i] = new(key, value);
            else
                Add(new(key, value));
        }
    }

    static readonly HashSet<string> AllowedGlobals =
    [
        "collections.OrderedDict",
        "torch._utils._rebuild_tensor",
        "torch._utils._rebuild_tensor_v2",
        "torch._utils._rebuild_parameter",
        "_codecs.encode",
        .. DTypes.StorageClasses.Select(s => $"torch.{s}"),
    ];

    /// <summary>What the reader accepts, for error messages.</summary>
    public const string AllowedDescription = "only OrderedDict, torch._utils._rebuild_tensor_v2/_rebuild_parameter and typed storages such as torch.FloatStorage";

    const int MaxDepth = 100_000;

    readonly ReadOnlyMemory<byte> _data;
    readonly Func<object?[], TensorStorage> _persistentLoad;
    readonly List<object?> _stack = [];
    readonly Stack<int> _marks = new();
    readonly Dictionary<long, object?> _memo = [];

    /// <summary>Reads pickles from <paramref name="data"/>, resolving persistent ids (tensor storages) with <paramref name="persistentLoad"/>.</summary>
    public RestrictedUnpickler(ReadOnlyMemory<byte> data, Func<object?[], TensorStorage> persistentLoad)
    {
        _data = data;
        _persistentLoad = persistentLoad;
    }

    /// <summary>Where the next pickle starts.</summary>
    public int Position { get; private set; }

    /// <summary>Reads one pickle, up to its STOP opcode.</summary>
    /// <exception cref="UnsafePickleException">The pickle names a global outside the allow-list.</exception>
    /// <exception cref="FormatException">The pickle is truncated or malformed.</exception>
    public object? Load()
    {
        _stack.Clear();
        _marks.Clear();
        _memo.Clear();
        while (true)
        {
            int at = Position;
            byte op = ReadByte();
            switch (op)
            {
                case 0x80: ReadByte(); break; // PROTO
                case 0x95: Read(8); break; // FRAME
                case (byte)'.': // STOP
                    return Pop();
                case (byte)'(': _marks.Push(_stack.Count); break;
                case (byte)'0': Pop(); break;
                case (byte)'1': PopMark(); break;
                case (byte)'2': Push(Peek()); break;
                case (byte)'N': Push(null); break;
                case 0x88: Push(true); break;
                case 0x89: Push(false); break;
                case (byte)'J': Push((long)BinaryPrimitives.ReadInt32LittleEndian(Read(4))); break;
                case (byte)'K': Push((long)ReadByte()); break;
                case (byte)'M': Push((long)BinaryPrimitives.ReadUInt16LittleEndian(Read(2))); break;
                case 0x8a: Push(ReadLong(ReadByte())); break; // LONG1
                case 0x8b: Push(ReadLong(ReadLength(4))); break; // LONG4
                case (byte)'G': Push(BinaryPrimitives.ReadDoubleBigEndian(Read(8))); break;
                case (byte)'I': Push(ParseInt(ReadLine())); break;
                case (byte)'L': Push(ParseBig(ReadLine().TrimEnd('L'))); break;
                case (byte)'F': Push(double.Parse(ReadLine(), System.Globalization.CultureInfo.InvariantCulture)); break;
                case (byte)'X': Push(Encoding.UTF8.GetString(Read(ReadLength(4)))); break;
                case 0x8c: Push(Encoding.UTF8.GetString(Read(ReadByte()))); break;
                case 0x8d: Push(Encoding.UTF8.GetString(Read(ReadLength(8)))); break;
                case (byte)'U': Push(Encoding.Latin1.GetString(Read(ReadByte()))); break;
                case (byte)'T': Push(Encoding.Latin1.GetString(Read(ReadLength(4)))); break;
                case (byte)'C': Push(Read(ReadByte()).ToArray()); break;
                case (byte)'B': Push(Read(ReadLength(4)).ToArray()); break;
                case 0x8e: Push(Read(ReadLength(8)).ToArray()); break;
                case (byte)')': Push(Array.Empty<object?>()); break;
                case 0x85: Push(new[] { Pop() }); break;
                case 0x86: { var b = Pop(); var a = Pop(); Push(new[] { a, b }); break; }
                case 0x87: { var c = Pop(); var b = Pop(); var a = Pop(); Push(new[] { a, b, c }); break; }
                case (byte)'t': Push(PopMark().ToArray()); break;
                case (byte)']': Push(new List<object?>()); break;
                case (byte)'l': Push(PopMark()); break;
                case (byte)'a': { var v = Pop(); As<List<object?>>(Peek(), "APPEND").Add(v); break; }
                case (byte)'e': { var items = PopMark(); As<List<object?>>(Peek(), "APPENDS").AddRange(items); break; }
                case 0x8f: Push(new List<object?>()); break; // EMPTY_SET
                case 0x90: { var items = PopMark(); As<List<object?>>(Peek(), "ADDITEMS").AddRange(items); break; }
                case 0x91: Push(PopMark()); break; // FROZENSET
                case (byte)'}': Push(new Dict()); break;
                case (byte)'d': Push(ToDict(PopMark())); break;
                case (byte)'s': { var v = Pop(); var k = Pop(); As<Dict>(Peek(), "SETITEM").Set(k, v); break; }
                case (byte)'u':
                {
                    var items = PopMark();
                    var dict = As<Dict>(Peek(), "SETITEMS");
                    foreach (var pair in ToDict(items))
                        dict.Set(pair.Key, pair.Value);
                    break;
                }
                case (byte)'q': _memo[ReadByte()] = Peek(); break;
                case (byte)'r': _memo[BinaryPrimitives.ReadUInt32LittleEndian(Read(4))] = Peek(); break;
                case 0x94: _memo[_memo.Count] = Peek(); break; // MEMOIZE
                case (byte)'p': _memo[long.Parse(ReadLine())] = Peek(); break;
                case (byte)'h': Push(Memo(ReadByte())); break;
                case (byte)'j': Push(Memo(BinaryPrimitives.ReadUInt32LittleEndian(Read(4)))); break;
                case (byte)'g': Push(Memo(long.Parse(ReadLine()))); break;
                case (byte)'c': Push(MakeGlobal(ReadLine(), ReadLine())); break;
                case 0x93: { var name = Pop(); var module = Pop(); Push(MakeGlobal(As<string>(module, "STACK_GLOBAL"), As<string>(name, "STACK_GLOBAL"))); break; }
                case (byte)'i': MakeGlobal(ReadLine(), ReadLine()); throw new FormatException("INST opcode is not used by weight files");
                case (byte)'R': { var args = As<object?[]>(Pop(), "REDUCE"); var callable = Pop(); Push(Call(callable, args)); break; }
                case 0x81: { var args = As<object?[]>(Pop(), "NEWOBJ"); var cls = Pop(); Push(Call(cls, args)); break; }
                case (byte)'b': Build(Pop(), Peek()); break;
                case (byte)'Q': Push(_persistentLoad(As<object?[]>(Pop(), "BINPERSID"))); break;
                default:
                    throw new FormatException($"pickle opcode 0x{op:x2} at byte {at} is not one a state dict uses");
            }
            if (_stack.Count > MaxDepth)
                throw new FormatException("pickle stack grows past any state dict's size");
        }
    }

    static Global MakeGlobal(string module, string name)
    {
        // Protocol 2 writes Python 2 module names; Python maps them back the same way (fix_imports).
        module = module switch { "__builtin__" => "builtins", "copy_reg" => "copyreg", _ => module };
        var global = new Global(module, name);
        if (!AllowedGlobals.Contains(global.FullName))
            throw new UnsafePickleException(global.FullName);
        return global;
    }

    static object? Call(object? callable, object?[] args)
    {
        if (callable is not Global g)
            throw new FormatException("pickle calls something that is not a global");
        switch (g.FullName)
        {
            case "collections.OrderedDict":
                var dict = new Dict();
                if (args.Length == 1 && args[0] is List<object?> pairs)
                    foreach (var pair in pairs)
                        if (pair is object?[] { Length: 2 } kv)
                            dict.Set(kv[0], kv[1]);
                return dict;
            case "torch._utils._rebuild_tensor":
            case "torch._utils._rebuild_tensor_v2":
                if (args.Length < 4 || args[0] is not TensorStorage storage)
                    throw new FormatException($"{g.FullName} called with unexpected arguments");
                return new TensorEntry("", storage, ToLong(args[1]), Longs(args[2]), Longs(args[3]));
            case "torch._utils._rebuild_parameter":
                if (args.Length < 1 || args[0] is not TensorEntry data)
                    throw new FormatException("_rebuild_parameter called without a tensor");
                return data;
            case "_codecs.encode":
                if (args.Length < 1 || args[0] is not string text)
                    throw new FormatException("_codecs.encode called without a string");
                return Encoding.Latin1.GetBytes(text);
            default:
                throw new FormatException($"pickle calls {g.FullName}, which only names a type");
        }
    }

    static void Build(object? state, object? target)
    {
        // An OrderedDict's state is its attributes (a state dict's _metadata: per-module versions); not needed.
        if (target is not Dict)
            throw new FormatException("pickle sets the state of something other than a dict");
    }

    static Dict ToDict(List<object?> items)
    {
        if (items.Count % 2 != 0)
            throw new FormatException("dict items come in an odd number");
        var dict = new Dict();
        for (int i = 0; i < items.Count; i += 2)
            dict.Set(items[i], items[i + 1]);
        return dict;
    }

    static long ToLong(object? value) => value switch
    {
        long l => l,
        BigInteger b when b >= long.MinValue && b <= long.MaxValue => (long)b,
        _ => throw new FormatException($"expected an integer, found {value?.GetType().Name ?? "None"}"),
    };

    static long[] Longs(object? value) => value is object?[] tuple
        ? tuple.Select(ToLong).ToArray()
        : throw new FormatException("expected a tuple of integers");

    static T As<T>(object? value, string op) => value is T t
        ? t
        : throw new FormatException($"{op} found {value?.GetType().Name ?? "None"} on the pickle stack");

    object? Memo(long key) => _memo.TryGetValue(key, out var value)
        ? value
        : throw new FormatException($"pickle refers to memo entry {key}, which was never stored");

    void Push(object? value) => _stack.Add(value);

    object? Pop()
    {
        if (_stack.Count == 0 || (_marks.Count > 0 && _stack.Count == _marks.Peek()))
            throw new FormatException("pickle pops an empty stack");
        var value = _stack[^1];
        _stack.RemoveAt(_stack.Count - 1);
        return value;
    }

    object? Peek() => _stack.Count > 0 ? _stack[^1] : throw new FormatException("pickle reads an empty stack");

    List<object?> PopMark()
    {
        if (_marks.Count == 0)
            throw new FormatException("pickle closes a MARK it never opened");
        int mark = _marks.Pop();
        var items = _stack.GetRange(mark, _stack.Count - mark);
        _stack.RemoveRange(mark, _stack.Count - mark);
        return items;
    }

    byte ReadByte() => Read(1)[0];

    ReadOnlySpan<byte> Read(long count)
    {
        if (count < 0 || Position + count > _data.Length)
            throw new FormatException($"pickle ends early: wants {count} bytes at byte {Position} of {_data.Length}");
        var span = _data.Span.Slice(Position, (int)count);
        Position += (int)count;
        return span;
    }

    long ReadLength(int bytes)
    {
        var span = Read(bytes);
        long length = bytes == 4 ? BinaryPrimitives.ReadUInt32LittleEndian(span) : BinaryPrimitives.ReadInt64LittleEndian(span);
        if (length < 0 || length > _data.Length - Position)
            throw new FormatException($"pickle announces {length} bytes at byte {Position}, more than the file holds");
        return length;
    }

    object ReadLong(long count)
    {
        var value = new BigInteger(Read(count), isUnsigned: false, isBigEndian: false);
        return value >= long.MinValue && value <= long.MaxValue ? (long)value : value;
    }

    string ReadLine()
    {
        var rest = _data.Span[Position..];
        int end = rest.IndexOf((byte)'\n');
        if (end < 0)
            throw new FormatException("pickle ends inside a text field");
        Position += end + 1;
        return Encoding.UTF8.GetString(rest[..end]);
    }

    static object ParseInt(string text) => text switch
    {
        "00" => false,
        "01" => true,
        _ => long.Parse(text, System.Globalization.CultureInfo.InvariantCulture),
    };

    static object ParseBig(string text)
    {
        var value = BigInteger.Parse(text, System.Globalization.CultureInfo.InvariantCulture);
        return value >= long.MinValue && value <= long.MaxValue ? (long)value : value;
    }
}

/// <summary>A pickle named a global a weights file never needs; it was refused before anything could call it.</summary>
internal sealed class UnsafePickleException(string global)
    : Exception($"the pickle asks for '{global}'")
{
    /// <summary>The refused global, e.g. <c>posix.system</c>.</summary>
    public string Global { get; } = global;
}
