using System.Collections;
using System.Globalization;
using System.Reflection;

namespace SegNotebooks;

/// <summary>
/// Turns a displayed value into a MIME bundle the way .NET Interactive does for the types notebooks show:
/// <see cref="HtmlContent"/> is <c>text/html</c>; a type carrying an attribute named <c>TypeFormatterSourceAttribute</c>
/// (the kernel's convention, so libraries need no kernel package) is formatted by its formatters, limited to the
/// attribute's <c>PreferredMimeTypes</c> when it names any; everything else is <c>text/plain</c>.
/// </summary>
public static class MimeFormatter
{
    /// <summary>The bundle for <paramref name="value"/>, always with <c>text/plain</c>; <paramref name="mimeType"/> narrows it to that type.</summary>
    public static IReadOnlyDictionary<string, string> Format(object? value, string? mimeType = null)
    {
        var bundle = new Dictionary<string, string>();
        switch (value)
        {
            case null:
                bundle["text/plain"] = "<null>";
                return bundle;
            case HtmlContent html:
                bundle["text/html"] = html.Html;
                break;
            default:
                foreach (var (mime, text) in Convention(value))
                    bundle.TryAdd(mime, text);
                break;
        }
        if (mimeType is not null)
        {
            if (bundle.TryGetValue(mimeType, out var only))
                return new Dictionary<string, string> { [mimeType] = only };
            if (mimeType is "text/html" or "text/plain")
                return new Dictionary<string, string> { [mimeType] = PlainText(value) };
            throw new ArgumentException($"{value.GetType().Name} has no {mimeType} formatter");
        }
        bundle.TryAdd("text/plain", PlainText(value));
        return bundle;
    }

    static string PlainText(object value) => value switch
    {
        string s => s,
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        IEnumerable items => "[" + string.Join(", ", items.Cast<object?>().Take(50).Select(i => i is null ? "<null>" : PlainText(i))) + "]",
        _ => value.ToString() ?? "",
    };

    static IEnumerable<(string Mime, string Text)> Convention(object value)
    {
        for (var type = value.GetType(); type is not null; type = type.BaseType)
        {
            foreach (var attribute in type.GetCustomAttributes(inherit: false))
            {
                var attributeType = attribute.GetType();
                if (attributeType.Name != "TypeFormatterSourceAttribute" || attributeType.GetProperty("FormatterSourceType")?.GetValue(attribute) is not Type sourceType)
                    continue;
                var preferred = attributeType.GetProperty("PreferredMimeTypes")?.GetValue(attribute) as string[] ?? [];
                var source = Activator.CreateInstance(sourceType, nonPublic: true)!;
                var formatters = (IEnumerable)sourceType.GetMethod("CreateTypeFormatters", BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance)!.Invoke(source, null)!;
                foreach (var formatter in formatters)
                {
                    var formatterType = formatter.GetType();
                    string mime = (string)formatterType.GetProperty("MimeType")!.GetValue(formatter)!;
                    if (preferred.Length > 0 && !preferred.Contains(mime) && mime != "text/plain")
                        continue;
                    using var writer = new StringWriter(CultureInfo.InvariantCulture);
                    if ((bool)formatterType.GetMethod("Format", [typeof(object), typeof(TextWriter)])!.Invoke(formatter, [value, writer])!)
                        yield return (mime, writer.ToString());
                }
                yield break;
            }
        }
    }
}

/// <summary>Raw HTML to display, what the kernel's <c>HTML("…")</c> returns.</summary>
/// <param name="Html">The markup.</param>
public sealed record HtmlContent(string Html)
{
    /// <inheritdoc/>
    public override string ToString() => Html;
}
