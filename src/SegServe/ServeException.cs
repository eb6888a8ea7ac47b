namespace SegServe;

/// <summary>A request the server refuses: its HTTP status and the one-line reason sent back as JSON.</summary>
public sealed class ServeException(int status, string message) : Exception(message)
{
    /// <summary>The HTTP status code (4xx for the client's input, 5xx for the server's side).</summary>
    public int Status { get; } = status;
}
