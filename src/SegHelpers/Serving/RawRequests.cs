using System.Globalization;
using System.Net.Sockets;
using System.Text;

namespace SegHelpers.Serving;

/// <summary>
/// Requests an HTTP client library will not send, written to a socket by hand: a body cut short of its Content-Length, and
/// one trickled too slowly. Each returns the status the server answered, or 0 where it closed without an answer.
/// </summary>
public static class RawRequests
{
    /// <summary>POSTs the first <paramref name="sent"/> bytes of <paramref name="body"/> under its full Content-Length, then ends the upload.</summary>
    public static async Task<int> TruncatedAsync(Uri server, byte[] body, int sent, CancellationToken cancel = default)
    {
        using var client = await Connect(server, cancel);
        var stream = client.GetStream();
        await stream.WriteAsync(Head(server, body.Length), cancel);
        await stream.WriteAsync(body.AsMemory(0, sent), cancel);
        client.Client.Shutdown(SocketShutdown.Send);
        return await Status(stream, cancel);
    }

    /// <summary>POSTs <paramref name="body"/> <paramref name="bytesPerSecond"/> bytes a second, until the server answers or the body is sent.</summary>
    public static async Task<int> SlowAsync(Uri server, byte[] body, int bytesPerSecond, CancellationToken cancel = default)
    {
        using var client = await Connect(server, cancel);
        var stream = client.GetStream();
        await stream.WriteAsync(Head(server, body.Length), cancel);
        var answer = Status(stream, cancel);
        int chunk = Math.Max(1, bytesPerSecond / 10);
        try
        {
            for (int at = 0; at < body.Length && !answer.IsCompleted; at += chunk)
            {
                await stream.WriteAsync(body.AsMemory(at, Math.Min(chunk, body.Length - at)), cancel);
                await Task.Delay(100, cancel);
            }
        }
        catch (IOException)
        {
            // the server closed the connection on a slow body, which is what this sends
        }
        return await answer;
    }

    static async Task<TcpClient> Connect(Uri server, CancellationToken cancel)
    {
        var client = new TcpClient { NoDelay = true };
        await client.ConnectAsync(server.Host, server.Port, cancel);
        return client;
    }

    static byte[] Head(Uri server, int length) => Encoding.ASCII.GetBytes(
        $"POST /invocations HTTP/1.1\r\nHost: {server.Authority}\r\nContent-Type: image/png\r\nContent-Length: {length.ToString(CultureInfo.InvariantCulture)}\r\nConnection: close\r\n\r\n");

    static async Task<int> Status(NetworkStream stream, CancellationToken cancel)
    {
        var buffer = new byte[64];
        int filled = 0;
        try
        {
            while (filled < 12)
            {
                int read = await stream.ReadAsync(buffer.AsMemory(filled), cancel);
                if (read == 0)
                    break;
                filled += read;
            }
        }
        catch (IOException)
        {
        }
        string line = Encoding.ASCII.GetString(buffer, 0, filled);
        return line.StartsWith("HTTP/1.1 ", StringComparison.Ordinal) && int.TryParse(line.AsSpan(9, 3), NumberStyles.None, CultureInfo.InvariantCulture, out int status) ? status : 0;
    }
}
