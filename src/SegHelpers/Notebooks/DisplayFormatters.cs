using System.Diagnostics.CodeAnalysis;

namespace SegHelpers.Notebooks;

/// <summary>
/// The .NET Interactive kernel's convention for formatting a library's types without referencing the kernel: it looks
/// for an attribute with this name whose <c>FormatterSourceType</c> creates objects with <c>MimeType</c> and
/// <c>Format(object, TextWriter)</c>. The headless executor (<c>seg notebook run</c>) follows the same convention.
/// </summary>
[AttributeUsage(AttributeTargets.Class, Inherited = true)]
sealed class TypeFormatterSourceAttribute(Type formatterSourceType) : Attribute
{
    public Type FormatterSourceType { get; } = formatterSourceType;

    public string[] PreferredMimeTypes { get; set; } = [];
}

/// <summary>Formatters for <see cref="Figure"/>, <see cref="PngImage"/> and <see cref="HtmlView"/>.</summary>
[SuppressMessage("Performance", "CA1822", Justification = "Called by reflection, by convention.")]
sealed class DisplayFormatters
{
    public IEnumerable<object> CreateTypeFormatters() =>
    [
        new Formatter("text/html", v => v switch { Figure f => f.Html, HtmlView h => h.Html, PngImage p => p.ToHtml(), _ => null }),
        new Formatter("image/png", v => v is PngImage p ? Convert.ToBase64String(p.Png) : null),
        new Formatter("text/plain", v => v?.ToString()),
    ];

    sealed class Formatter(string mimeType, Func<object?, string?> format)
    {
        public string MimeType { get; } = mimeType;

        public bool Format(object? instance, TextWriter writer)
        {
            if (format(instance) is not { } text)
                return false;
            writer.Write(text);
            return true;
        }
    }
}
