namespace SegServe;

/// <summary>
/// SageMaker's <c>X-Amzn-SageMaker-Custom-Attributes</c>: an opaque string of at most 1,024 visible ASCII characters that
/// SageMaker forwards as the client sent it. Clients put their own keys there (trace ids, tenants), so this server reads the
/// one key it knows, <c>flip=true|false</c> (test-time augmentation with the mirrored image), and ignores the rest, as the
/// SageMaker inference toolkit leaves the header to the handler.
/// </summary>
/// <param name="Flip">Average the prediction with the mirrored image's.</param>
/// <param name="Ignored">The parts that are not <c>flip=…</c>, for the log.</param>
public sealed record CustomAttributes(bool Flip, IReadOnlyList<string> Ignored)
{
    /// <summary>The header's name.</summary>
    public const string Header = SegHelpers.Serving.ServerProcess.CustomAttributesHeader;

    /// <summary>SageMaker's limit on the header's length.</summary>
    public const int MaxLength = 1024;

    /// <summary>Reads the header's value; null or empty is no flip.</summary>
    /// <exception cref="ServeException">400 for a value SageMaker would not forward (too long, not visible ASCII) or a flip that is not true or false.</exception>
    public static CustomAttributes Parse(string? value)
    {
        value ??= "";
        if (value.Length > MaxLength)
            throw new ServeException(400, $"{Header} is {value.Length} characters; SageMaker forwards at most {MaxLength}");
        if (value.FirstOrDefault(c => c is < ' ' or > '~' && c != '\t') is var bad && bad != default)
            throw new ServeException(400, $"{Header} holds the character U+{(int)bad:X4}; SageMaker forwards only visible ASCII");
        bool flip = false;
        var ignored = new List<string>();
        foreach (string pair in value.Split([',', ';'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var parts = pair.Split('=', 2, StringSplitOptions.TrimEntries);
            if (!parts[0].Equals("flip", StringComparison.OrdinalIgnoreCase))
                ignored.Add(pair);
            else if (parts.Length == 2 && bool.TryParse(parts[1], out bool on))
                flip = on;
            else
                throw new ServeException(400, $"custom attribute '{pair}': flip takes true or false");
        }
        return new CustomAttributes(flip, ignored);
    }
}
