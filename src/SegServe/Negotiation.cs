using Microsoft.Net.Http.Headers;

namespace SegServe;

/// <summary>What <c>/invocations</c> answers with.</summary>
public enum ResponseKind
{
    /// <summary>The 8-bit road probability map as a grayscale PNG of the image's size (<c>Accept: image/png</c>, the default).</summary>
    ProbabilityMap,

    /// <summary>The binary road mask (255 road, 0 not) as a grayscale PNG (<c>Accept: image/png;output=mask</c>).</summary>
    Mask,

    /// <summary>The image with predicted road tinted green, as JPEG (<c>Accept: image/jpeg</c>).</summary>
    Overlay,

    /// <summary>Road fraction, image size, model, precision and time, as JSON (<c>Accept: application/json</c>).</summary>
    Summary,
}

/// <summary>The request side of the contract: content types, <c>Accept</c>, and SageMaker's custom attributes.</summary>
public static class Negotiation
{
    /// <summary>Content types <c>/invocations</c> takes.</summary>
    public static readonly IReadOnlyList<string> ImageTypes = ["image/png", "image/jpeg", "application/x-image"];

    /// <summary>What <c>Accept</c> may ask for, one per <see cref="ResponseKind"/>.</summary>
    public static readonly IReadOnlyList<string> AcceptTypes = ["image/png", "image/png;output=mask", "image/jpeg", "application/json"];

    /// <summary>The Content-Type of a response of <paramref name="kind"/>.</summary>
    public static string ContentType(ResponseKind kind) => kind switch
    {
        ResponseKind.Overlay => "image/jpeg",
        ResponseKind.Summary => "application/json",
        _ => "image/png",
    };

    /// <summary>True when <paramref name="contentType"/> is one of <see cref="ImageTypes"/> (parameters ignored).</summary>
    public static bool IsImage(string? contentType) =>
        contentType is not null && MediaTypeHeaderValue.TryParse(contentType, out var parsed) &&
        ImageTypes.Contains(parsed.MediaType.Value ?? "", StringComparer.OrdinalIgnoreCase);

    /// <summary>The best answer <paramref name="accept"/> allows (highest quality first, then order); null when none is supported.</summary>
    public static ResponseKind? Choose(IList<string>? accept)
    {
        if (accept is null || accept.Count == 0 || accept.All(string.IsNullOrWhiteSpace))
            return ResponseKind.ProbabilityMap;
        if (!MediaTypeHeaderValue.TryParseList(accept, out var types))
            return null;
        foreach (var type in types.Select((t, i) => (t, i)).OrderByDescending(x => x.t.Quality ?? 1).ThenBy(x => x.i).Select(x => x.t))
        {
            if (type.Quality is 0)
                continue;
            string media = type.MediaType.Value?.ToLowerInvariant() ?? "";
            string? output = type.Parameters.FirstOrDefault(p => p.Name.Equals("output", StringComparison.OrdinalIgnoreCase))?.Value.Value?.Trim('"').ToLowerInvariant();
            ResponseKind? kind = (media, output) switch
            {
                ("image/png", null or "probability") => ResponseKind.ProbabilityMap,
                ("image/png", "mask") => ResponseKind.Mask,
                ("image/jpeg", null or "overlay") => ResponseKind.Overlay,
                ("application/json", null) => ResponseKind.Summary,
                ("*/*" or "image/*", null) => ResponseKind.ProbabilityMap,
                _ => null,
            };
            if (kind is not null)
                return kind;
        }
        return null;
    }

    /// <summary>Content types whose bytes are sniffed for PNG or JPEG: the SageMaker Python SDK's default serializer sends the first.</summary>
    public static readonly IReadOnlyList<string> SniffedTypes = ["application/octet-stream"];

    /// <summary>
    /// What a Content-Type promises: <c>true</c> for an image type, <c>false</c> for none or a sniffed type (the bytes decide),
    /// null for a type this server does not take.
    /// </summary>
    public static bool? DeclaresImage(string? contentType)
    {
        if (string.IsNullOrWhiteSpace(contentType))
            return false;
        if (!MediaTypeHeaderValue.TryParse(contentType, out var parsed))
            return null;
        string media = parsed.MediaType.Value ?? "";
        return ImageTypes.Contains(media, StringComparer.OrdinalIgnoreCase) ? true
            : SniffedTypes.Contains(media, StringComparer.OrdinalIgnoreCase) ? false
            : null;
    }

    /// <summary><c>image/png</c> or <c>image/jpeg</c> from the body's first bytes (their signatures), else null.</summary>
    public static string? Sniff(ReadOnlySpan<byte> body) =>
        body.StartsWith((ReadOnlySpan<byte>)[0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A]) ? "image/png"
        : body.StartsWith((ReadOnlySpan<byte>)[0xFF, 0xD8, 0xFF]) ? "image/jpeg"
        : null;

    /// <summary>The first bytes of <paramref name="body"/> in hex, for an error message.</summary>
    public static string Head(ReadOnlySpan<byte> body) => Convert.ToHexString(body[..Math.Min(8, body.Length)]).ToLowerInvariant();
}
