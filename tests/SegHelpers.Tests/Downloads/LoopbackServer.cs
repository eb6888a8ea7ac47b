using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace SegHelpers.Tests.Downloads;

/// <summary>What the server answers for one path.</summary>
/// <param name="Body">The file.</param>
/// <param name="Status">The status of a plain answer (200 unless a failure is wanted).</param>
/// <param name="CutAfter">Drop the connection after this many body bytes, on the first request only.</param>
sealed record Served(byte[] Body, int Status = 200, int? CutAfter = null);

/// <summary>
/// A small HTTP/1.1 server on 127.0.0.1 and an ephemeral port, for download tests: serves byte arrays by path, honours
/// <c>Range: bytes=N-</c> with 206, can answer any status and can drop the connection mid-body once.
/// </summary>
sealed class LoopbackServer : IDisposable
{
    readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    readonly ConcurrentDictionary<string, Served> _files = new();
    readonly ConcurrentDictionary<string, int> _requests = new();
    readonly ConcurrentQueue<string> _ranges = new();
    readonly ConcurrentQueue<(string Path, DateTime At)> _times = new();
    readonly CancellationTokenSource _stop = new();

    public LoopbackServer()
    {
        _listener.Start();
        _ = Task.Run(Accept);
    }

    public Uri Url(string path) => new($"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}/{path}");

    public void Serve(string path, Served served) => _files[path] = served;

    /// <summary>Requests received for <paramref name="path"/>.</summary>
    public int Requests(string path) => _requests.GetValueOrDefault(path);

    /// <summary>When each request for <paramref name="path"/> arrived, in order.</summary>
    public IReadOnlyList<DateTime> RequestTimes(string path) => [.. _times.Where(t => t.Path == path).Select(t => t.At)];

    /// <summary>The Range headers received, in order.</summary>
    public IReadOnlyList<string> Ranges => [.. _ranges];

    async Task Accept()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(_stop.Token);
            }
            catch (Exception)
            {
                return;
            }
            _ = Task.Run(() => Handle(client));
        }
    }

    async Task Handle(TcpClient client)
    {
        using (client)
        {
            var stream = client.GetStream();
            var reader = new StreamReader(stream, Encoding.ASCII);
            string? requestLine = await reader.ReadLineAsync();
            if (requestLine is null)
                return;
            string path = requestLine.Split(' ')[1].TrimStart('/');
            long from = 0;
            string? line;
            while (!string.IsNullOrEmpty(line = await reader.ReadLineAsync()))
                if (line.StartsWith("Range: bytes=", StringComparison.OrdinalIgnoreCase))
                {
                    _ranges.Enqueue(line);
                    from = long.Parse(line["Range: bytes=".Length..].TrimEnd('-'));
                }
            int count = _requests.AddOrUpdate(path, 1, (_, n) => n + 1);
            _times.Enqueue((path, DateTime.UtcNow));
            if (!_files.TryGetValue(path, out var served))
            {
                await Write(stream, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                return;
            }
            if (served.Status != 200)
            {
                await Write(stream, $"HTTP/1.1 {served.Status} Status\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                return;
            }
            var body = served.Body.AsMemory((int)from);
            await Write(stream, from > 0
                ? $"HTTP/1.1 206 Partial Content\r\nContent-Length: {body.Length}\r\nContent-Range: bytes {from}-{served.Body.Length - 1}/{served.Body.Length}\r\nConnection: close\r\n\r\n"
                : $"HTTP/1.1 200 OK\r\nContent-Length: {body.Length}\r\nConnection: close\r\n\r\n");
            if (served.CutAfter is { } cut && count == 1)
            {
                await stream.WriteAsync(body[..Math.Min(cut, body.Length)]);
                await stream.FlushAsync();
                client.Client.LingerState = new LingerOption(true, 0); // a reset, as a dropped connection looks
                return;
            }
            await stream.WriteAsync(body);
        }
    }

    static Task Write(NetworkStream stream, string text) => stream.WriteAsync(Encoding.ASCII.GetBytes(text)).AsTask();

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Stop();
    }
}
