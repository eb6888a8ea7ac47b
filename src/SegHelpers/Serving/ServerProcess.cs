using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.RegularExpressions;
using SegHelpers.Native;

namespace SegHelpers.Serving;

/// <summary>
/// <c>seg serve</c> in a process of its own, as a container runs it: started on a free loopback port, waited for until
/// <c>/ping</c> answers 200, called, and stopped with SIGTERM. For notebooks (the last cell of notebook 05) and the load
/// benchmark; the process runs on the same allocator a <c>seg</c> command gets.
/// </summary>
public sealed partial class ServerProcess : IDisposable
{
    readonly Process _process;
    readonly StringBuilder _output = new();
    readonly HttpClient _http = new() { Timeout = TimeSpan.FromMinutes(5) };
    readonly TaskCompletionSource<Uri> _listening = new(TaskCreationOptions.RunContinuationsAsynchronously);

    ServerProcess(ProcessStartInfo start)
    {
        _process = new Process { StartInfo = start };
        _process.OutputDataReceived += (_, e) => Append(e.Data);
        _process.ErrorDataReceived += (_, e) => Append(e.Data);
        _process.Start();
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    /// <summary>The header SageMaker passes through from <c>invoke-endpoint --custom-attributes</c> (e.g. <c>flip=true</c>).</summary>
    public const string CustomAttributesHeader = "X-Amzn-SageMaker-Custom-Attributes";

    /// <summary>Where the server listens.</summary>
    public Uri Address { get; private set; } = null!;

    /// <summary>The server's process id.</summary>
    public int Id => _process.Id;

    /// <summary>What the server has logged so far (stdout and stderr).</summary>
    public string Log
    {
        get
        {
            lock (_output)
                return _output.ToString();
        }
    }

    /// <summary>The server process's command line, as Linux reports it.</summary>
    public string CommandLine => File.Exists($"/proc/{Id}/cmdline") ? File.ReadAllText($"/proc/{Id}/cmdline").Replace('\0', ' ').Trim() : "?";

    /// <summary>The server's resident memory now, in bytes.</summary>
    public long ResidentBytes
    {
        get
        {
            _process.Refresh();
            return _process.WorkingSet64;
        }
    }

    /// <summary>
    /// Starts <c>seg serve --model <paramref name="model"/> --host 127.0.0.1 --port 0</c> plus <paramref name="arguments"/>
    /// and returns once <c>/ping</c> answers 200. <paramref name="segDll"/> defaults to the <c>seg.dll</c> beside this library;
    /// <paramref name="environment"/> adds variables to the server's.
    /// </summary>
    /// <exception cref="InvalidOperationException">The server exited or did not get ready in time; the message holds its log.</exception>
    public static async Task<ServerProcess> StartAsync(string model, IEnumerable<string>? arguments = null, string? segDll = null, TimeSpan? timeout = null,
        IReadOnlyDictionary<string, string>? environment = null)
    {
        segDll ??= Path.Combine(Path.GetDirectoryName(typeof(ServerProcess).Assembly.Location)!, "seg.dll"); // SegHelpers.dll lives beside seg.dll in a build
        if (!File.Exists(segDll))
            throw new FileNotFoundException($"{segDll} not found; build first: dotnet build -c Release", segDll);
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in new[] { segDll, "serve", "--model", model, "--host", "127.0.0.1", "--port", "0" }.Concat(arguments ?? []))
            start.ArgumentList.Add(a);
        foreach (var (name, value) in FastAllocator.ChildEnvironment())
            start.Environment[name] = value; // the allocator from the start, so this process is the server (no re-exec)
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
            start.Environment[name] = value;
        var server = new ServerProcess(start);
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromMinutes(3));
        if (await Task.WhenAny(server._listening.Task, server._process.WaitForExitAsync(), Task.Delay(deadline - DateTime.UtcNow)) != server._listening.Task)
            throw server.Failed("did not start listening");
        server.Address = server._listening.Task.Result;
        while (!server._process.HasExited && DateTime.UtcNow < deadline)
        {
            try
            {
                if ((await server._http.GetAsync(new Uri(server.Address, "/ping"))).StatusCode == HttpStatusCode.OK)
                    return server;
            }
            catch (HttpRequestException)
            {
            }
            await Task.Delay(100);
        }
        throw server.Failed(server._process.HasExited ? $"exited with code {server._process.ExitCode}" : "was not ready in time");
    }

    void Append(string? line)
    {
        if (line is null)
            return;
        lock (_output)
            _output.AppendLine(line);
        if (Listening().Match(line) is { Success: true } m)
            _listening.TrySetResult(new Uri(m.Groups[1].Value));
    }

    InvalidOperationException Failed(string what)
    {
        if (!_process.HasExited)
            _process.Kill(entireProcessTree: true);
        _process.WaitForExit();
        var error = new InvalidOperationException($"seg serve {what}:\n{Log}");
        Dispose();
        return error;
    }

    /// <summary>POSTs an image to <c>/invocations</c> and returns the answer's bytes; a non-2xx answer throws with its JSON error.</summary>
    public async Task<byte[]> InvokeAsync(byte[] image, string accept = "image/png", string? customAttributes = null, CancellationToken cancel = default)
    {
        using var response = await SendAsync(image, accept, customAttributes, cancel);
        byte[] body = await response.Content.ReadAsByteArrayAsync(cancel);
        if (!response.IsSuccessStatusCode)
            throw new HttpRequestException($"POST /invocations: {(int)response.StatusCode} {Encoding.UTF8.GetString(body).Trim()}", null, response.StatusCode);
        return body;
    }

    /// <summary>POSTs an image file to <c>/invocations</c>.</summary>
    public Task<byte[]> InvokeAsync(string imagePath, string accept = "image/png", string? customAttributes = null, CancellationToken cancel = default) =>
        InvokeAsync(File.ReadAllBytes(imagePath), accept, customAttributes, cancel);

    /// <summary>POSTs an image to <c>/invocations</c> and returns the response as it is.</summary>
    public Task<HttpResponseMessage> SendAsync(byte[] image, string accept = "image/png", string? customAttributes = null, CancellationToken cancel = default)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, new Uri(Address, "/invocations")) { Content = new ByteArrayContent(image) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue(image.Length > 2 && image[0] == 0xFF && image[1] == 0xD8 ? "image/jpeg" : "image/png");
        request.Headers.TryAddWithoutValidation("Accept", accept);
        if (customAttributes is not null)
            request.Headers.Add(CustomAttributesHeader, customAttributes);
        return _http.SendAsync(request, cancel);
    }

    /// <summary>Sends SIGTERM (the server answers what is in flight, then exits) and returns the exit code.</summary>
    public int Stop(TimeSpan? timeout = null)
    {
        if (!_process.HasExited)
        {
            Process.Start("kill", ["-TERM", Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])!.WaitForExit();
            if (!_process.WaitForExit(timeout ?? TimeSpan.FromMinutes(2)))
            {
                _process.Kill(entireProcessTree: true);
                throw new TimeoutException($"seg serve did not stop within {timeout ?? TimeSpan.FromMinutes(2)} of SIGTERM");
            }
        }
        _process.WaitForExit();
        return _process.ExitCode;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (!_process.HasExited)
        {
            try
            {
                Stop(TimeSpan.FromSeconds(30));
            }
            catch (TimeoutException)
            {
            }
        }
        _process.Dispose();
        _http.Dispose();
    }

    [GeneratedRegex(@"listening on (http://\S+)")]
    private static partial Regex Listening();
}
