using System.Text.Json.Nodes;

namespace SegNotebooks;

/// <summary>
/// What a notebook cell can call bare, as in the .NET Interactive C# kernel: <c>display(value)</c>, which returns a
/// handle whose <c>Update(value)</c> replaces the output in place, and <c>HTML("…")</c>.
/// </summary>
public sealed class KernelGlobals
{
    internal CellOutputs? Outputs { get; set; }

    /// <summary>Shows <paramref name="value"/> as a new output of the running cell (narrowed to <paramref name="mimeType"/> if given).</summary>
    public DisplayHandle display(object? value, string? mimeType = null)
    {
        var outputs = Outputs ?? throw new InvalidOperationException("display() was called outside a running cell");
        return new DisplayHandle(outputs, outputs.Display(MimeFormatter.Format(value, mimeType)), mimeType);
    }

    /// <summary>Wraps markup so that displaying it renders HTML.</summary>
    public HtmlContent HTML(string html) => new(html);
}

/// <summary>A displayed output that can be replaced, like the kernel's <c>DisplayedValue</c>.</summary>
public sealed class DisplayHandle
{
    readonly CellOutputs _outputs;
    readonly JsonObject _output;
    readonly string? _mimeType;

    internal DisplayHandle(CellOutputs outputs, JsonObject output, string? mimeType)
    {
        _outputs = outputs;
        _output = output;
        _mimeType = mimeType;
    }

    /// <summary>Replaces the displayed value.</summary>
    public void Update(object? value) => _outputs.Replace(_output, MimeFormatter.Format(value, _mimeType));
}
