namespace SegHelpers.Notebooks;

/// <summary>Markup that notebooks render as HTML (tables, galleries).</summary>
/// <param name="Html">The markup.</param>
[TypeFormatterSource(typeof(DisplayFormatters), PreferredMimeTypes = ["text/html"])]
public sealed record HtmlView(string Html)
{
    /// <summary>Writes a standalone page atomically.</summary>
    public void Save(string path) => AtomicFile.WriteText(path, $"<!DOCTYPE html><html><head><meta charset=\"utf-8\"></head><body>{Html}</body></html>\n");

    /// <inheritdoc/>
    public override string ToString() => Html;
}
