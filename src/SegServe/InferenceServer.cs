using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using SegHelpers;
using SegHelpers.Data;
using SegHelpers.Evaluation;
using SegHelpers.Native;

namespace SegServe;

/// <summary>Where a server is in its life.</summary>
public enum ServerState
{
    /// <summary>Listening, the model not yet loaded or not yet run once: <c>/ping</c> answers 503.</summary>
    Loading,

    /// <summary>The model has loaded and predicted once: <c>/ping</c> answers 200.</summary>
    Ready,

    /// <summary>The model could not be loaded, or no longer predicts: <c>/ping</c> answers 503 with the reason.</summary>
    Failed,
}

/// <summary>
/// A SageMaker inference container on ASP.NET Core (Kestrel): <c>GET /ping</c>, <c>POST /invocations</c> and
/// <c>GET /execution-parameters</c> over a <see cref="RoadPredictor"/>, the same predictor and image codec as
/// <c>seg predict</c>, so a served map is byte for byte the file <c>seg predict</c> writes. It listens at once and loads the
/// model in the background; <c>/ping</c> answers from the server's state alone, 200 only after the model has predicted once.
/// A request is admitted (<see cref="PredictionQueue"/>) before its body is read, and decoded, predicted and encoded on a
/// model thread, so memory is bounded by the places, not by the clients. The client's faults are 4xx with a one-line JSON
/// error, the server's 5xx; bodies carry no paths or exception types (the log does). Stopping (SIGTERM,
/// <see cref="StopAsync"/>) lets the requests in flight finish within <see cref="ServeOptions.Grace"/>, then cuts the rest.
/// </summary>
public sealed class InferenceServer : IAsyncDisposable
{
    readonly ServeOptions _options;
    readonly TextWriter _log;
    readonly Action<RgbImage>? _beforePrediction;
    readonly WebApplication _app;
    readonly Lock _logLock = new();
    readonly CancellationTokenSource _stopping = new();
    readonly CancellationTokenSource _cut = new();
    readonly Timer _memory;
    RoadPredictor? _predictor;
    PredictionQueue? _queue;
    RgbImage? _warmup;
    string _model = "";
    string? _failure;
    long _requests, _answeredWhileStopping, _cutWhileStopping;
    int _stopped, _released = 1;
    volatile ServerState _state = ServerState.Loading;

    InferenceServer(ServeOptions options, TextWriter log, Action<RgbImage>? beforePrediction)
    {
        _options = options;
        _log = log;
        _beforePrediction = beforePrediction;
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [], ContentRootPath = AppContext.BaseDirectory });
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Limits.MaxRequestBodySize = null; // enforced while reading, to answer with the JSON error
            kestrel.Limits.MaxConcurrentConnections = options.MaxConnections;
            kestrel.Limits.MaxConcurrentUpgradedConnections = 0;
            // What one connection may buffer before the handler reads it: with up to MaxConnections open, this bounds Kestrel.
            kestrel.Limits.MaxRequestBufferSize = 128 * 1024;
            kestrel.Limits.RequestHeadersTimeout = TimeSpan.FromSeconds(10);
            kestrel.Limits.MinRequestBodyDataRate = new MinDataRate(bytesPerSecond: 16 * 1024, gracePeriod: TimeSpan.FromSeconds(5));
        });
        string host = options.Host.Contains(':') ? $"[{options.Host}]" : options.Host;
        builder.WebHost.UseUrls($"http://{host}:{options.Port}");
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = options.Grace);
        builder.Services.Configure<ConsoleLifetimeOptions>(o => o.SuppressStatusMessages = true);
        _app = builder.Build();
        _app.MapGet("/ping", Ping);
        _app.MapGet("/execution-parameters", ExecutionParameters);
        _app.MapPost("/invocations", Invoke);
        _app.Lifetime.ApplicationStopping.Register(OnStopping);
        _memory = new Timer(_ => ReleaseMemoryWhenIdle(), null, MemoryCheck, MemoryCheck);
    }

    /// <summary>Idle this long after a burst, the server gives its free memory back (<see cref="FreeMemory"/>).</summary>
    internal static readonly TimeSpan IdleBeforeRelease = TimeSpan.FromSeconds(2);

    static readonly TimeSpan MemoryCheck = TimeSpan.FromMilliseconds(500);

    /// <summary>Starts listening, then loads the model in the background (<see cref="Loaded"/>).</summary>
    /// <exception cref="ArgumentException">An option is out of range.</exception>
    public static Task<InferenceServer> StartAsync(ServeOptions options, TextWriter? log = null) => StartAsync(options, log, null);

    /// <summary><see cref="StartAsync(ServeOptions, TextWriter?)"/> with a hook run on the model's thread before each prediction, the warm-up's included (tests hold loading and provoke failures with it).</summary>
    internal static async Task<InferenceServer> StartAsync(ServeOptions options, TextWriter? log, Action<RgbImage>? beforePrediction)
    {
        options.Validate();
        var server = new InferenceServer(options, log ?? Console.Out, beforePrediction);
        await server._app.StartAsync();
        server.Address = new Uri(server._app.Urls.First());
        server.Log($"listening on {server.Address} (model {options.Model}: loading)");
        server.Loaded = Task.Run(server.Load);
        return server;
    }

    /// <summary>The address the server listens on (with the real port when 0 was asked for).</summary>
    public Uri Address { get; private set; } = null!;

    /// <summary>Loading, ready or failed.</summary>
    public ServerState State => _state;

    /// <summary>Completes when the model is ready; faults with the reason it could not load.</summary>
    public Task Loaded { get; private set; } = Task.CompletedTask;

    /// <summary>The model served and what runs it, as the JSON summary's <c>model</c> says; empty until loaded.</summary>
    public string Model => _model;

    /// <summary>Requests admitted and not yet answered.</summary>
    internal int InSystem => _queue?.InSystem ?? 0;

    /// <summary>What stopping did, in one line: answered within the grace period, or what was cut. Null until stopped.</summary>
    public string? StopReport { get; private set; }

    /// <summary>Waits until the host is told to stop (SIGTERM, Ctrl+C or <see cref="StopAsync"/>), then drains (<see cref="StopAsync"/>).</summary>
    public async Task WaitForShutdownAsync()
    {
        await _app.WaitForShutdownAsync();
        Drain();
    }

    /// <summary>Stops accepting connections, lets the requests in flight finish within the grace period, then releases the model.</summary>
    public async Task StopAsync()
    {
        await _app.StopAsync();
        Drain();
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        await _memory.DisposeAsync();
        await _app.DisposeAsync();
    }

    long _stopStarted;

    void OnStopping()
    {
        _stopStarted = Stopwatch.GetTimestamp();
        _stopping.Cancel();
        // Requests still waiting or running a second before the grace period ends are answered 503 (the client can retry
        // elsewhere) instead of being reset when Kestrel gives up on them.
        var margin = TimeSpan.FromTicks(Math.Min(TimeSpan.TicksPerSecond, _options.Grace.Ticks / 10));
        _cut.CancelAfter(_options.Grace - margin);
        int inSystem = _queue?.InSystem ?? 0;
        Log($"stopping: {inSystem} request(s) in flight, up to {_options.Grace.TotalSeconds:0.#} s to finish them (--shutdown-grace)" +
            (_state == ServerState.Loading ? "; the model is still loading, which is not waited for" : ""));
    }

    void Drain()
    {
        if (Interlocked.Exchange(ref _stopped, 1) == 1)
            return;
        var left = _options.Grace - Stopwatch.GetElapsedTime(_stopStarted == 0 ? Stopwatch.GetTimestamp() : _stopStarted);
        bool loading = !Loaded.IsCompleted;
        if (loading)
        {
            // Loading is not cancellable mid-file, and nothing waits for it: the process may exit with it unfinished.
            StopReport = "stopped while the model was loading; loading was cut";
            Log(StopReport);
            return;
        }
        bool drained = true;
        if (Interlocked.Exchange(ref _queue, null) is { } queue)
            drained = queue.Drain(left > TimeSpan.Zero ? left : TimeSpan.Zero);
        if (drained)
            Interlocked.Exchange(ref _predictor, null)?.Dispose();
        long cut = Interlocked.Read(ref _cutWhileStopping);
        StopReport = cut == 0 && drained
            ? $"stopped in {Stopwatch.GetElapsedTime(_stopStarted).TotalSeconds:0.0} s: every request in flight was answered ({Interlocked.Read(ref _answeredWhileStopping)} while stopping)"
            : $"stopped at the {_options.Grace.TotalSeconds:0.#} s grace period: {Interlocked.Read(ref _answeredWhileStopping)} request(s) answered while stopping, {cut} cut " +
              (drained ? "(answered 503)" : "(answered 503; a model pass was still running and is abandoned with the process)");
        Log(StopReport);
    }

    void Load()
    {
        try
        {
            var clock = Stopwatch.StartNew();
            var defaults = RoadPredictor.DefaultOptions(_options.Model, _options.Backend);
            var options = defaults with { Device = _options.Device, Precision = _options.Precision, BatchSize = 1 };
            if (_options.Size is var (h, w))
                options = options with { Height = h, Width = w };
            options = options with { Backend = _options.Backend ?? RoadPredictor.ServingBackend(_options.Model, options) };
            var predictor = RoadPredictor.Load(_options.Model, options);
            _predictor = predictor;
            _model = $"{predictor.Description}, input {predictor.Options.Height}×{predictor.Options.Width}";
            // A KITTI-sized mid-grey image: the first pass (oneDNN's kernel choice, allocator pools) happens before /ping says ready.
            _warmup = new RgbImage(1242, 375, Enumerable.Repeat((byte)128, 1242 * 375 * 3).ToArray());
            _beforePrediction?.Invoke(_warmup);
            var pass = Stopwatch.StartNew();
            predictor.Predict(_warmup, false);
            _queue = new PredictionQueue(_options.WorkThreads, _options.Workers, _options.QueueLimit, new WorkEstimate(pass.Elapsed.TotalSeconds));
            _state = ServerState.Ready;
            Log($"ready in {clock.Elapsed.TotalSeconds:F1} s: {_model} ({Path.GetFullPath(_options.Model)}), {predictor.Options.Precision} on {predictor.Device}; " +
                $"{_options.Workers} model pass(es) at once on {_options.WorkThreads} thread(s), queue {_options.QueueLimit}, body ≤ {_options.MaxBodyBytes / (double)ServeOptions.MB:0.#} MB, " +
                $"answer ≤ {_options.MaxResponseBytes / (double)ServeOptions.MB:0.#} MB, images ≤ {_options.MaxMegapixels:0.#} megapixels, " +
                $"timeout {_options.RequestTimeout.TotalSeconds:0.#} s, batch strategy {_options.BatchStrategy}, allocator {FastAllocator.Describe()}");
        }
        catch (Exception e)
        {
            _failure = $"the model could not be loaded: {(e is BadInputException b ? b.Problem : Describe(e))}";
            _state = ServerState.Failed;
            Log($"error: the model could not be loaded: {Describe(e)}");
            throw;
        }
    }

    RoadProbability Predict(RgbImage image, bool flip)
    {
        var predictor = _predictor ?? throw new ServeException(503, "the server is shutting down; retry on another instance");
        try
        {
            return _queue is { } queue ? queue.Pass(() => Pass(predictor, image, flip)) : Pass(predictor, image, flip);
        }
        catch (Exception)
        {
            CheckModel(predictor);
            throw;
        }
    }

    RoadProbability Pass(RoadPredictor predictor, RgbImage image, bool flip)
    {
        _beforePrediction?.Invoke(image);
        return predictor.Predict(image, flip);
    }

    /// <summary>After a failed prediction: does the model still predict the warm-up image? If not, <c>/ping</c> turns 503.</summary>
    void CheckModel(RoadPredictor predictor)
    {
        try
        {
            _beforePrediction?.Invoke(_warmup!);
            predictor.Predict(_warmup!, false);
        }
        catch (Exception e)
        {
            _failure = $"the model no longer predicts: {Describe(e)}";
            _state = ServerState.Failed;
            Log($"error: {_failure}; /ping now answers 503");
        }
    }

    /// <summary>
    /// Answered from the state alone: no model, no lock, no body. SageMaker replaces an instance whose /ping takes over 2 s,
    /// and TorchServe's frontend answers its ping the same way, apart from the workers.
    /// </summary>
    Task Ping(HttpContext context)
    {
        if (_state == ServerState.Ready)
        {
            context.Response.StatusCode = 200;
            return Task.CompletedTask;
        }
        return Error(context, 503, _state == ServerState.Failed ? _failure ?? "failed" : "the model is still loading");
    }

    Task ExecutionParameters(HttpContext context) =>
        context.Response.WriteAsJsonAsync(new Dictionary<string, object>
        {
            ["MaxConcurrentTransforms"] = _options.MaxConcurrentTransforms,
            ["BatchStrategy"] = _options.BatchStrategy,
            ["MaxPayloadInMB"] = _options.MaxPayloadInMB,
        });

    async Task Invoke(HttpContext context)
    {
        long arrived = Stopwatch.GetTimestamp();
        long id = Interlocked.Increment(ref _requests);
        string what = "";
        int status = 200;
        var request = context.Request;
        var aborted = context.RequestAborted;
        try
        {
            if (_state != ServerState.Ready || _queue is not { } queue)
                throw new ServeException(503, _state == ServerState.Failed ? _failure ?? "failed" : "the model is still loading; wait until GET /ping answers 200");
            if (_stopping.IsCancellationRequested)
                throw new ServeException(503, "the server is shutting down; retry on another instance");
            bool? declared = Negotiation.DeclaresImage(request.ContentType);
            if (declared is null)
                throw new ServeException(415, $"Content-Type '{request.ContentType}' is not taken; send {string.Join(", ", Negotiation.ImageTypes)}, or {Negotiation.SniffedTypes[0]} with PNG or JPEG bytes");
            var kind = Negotiation.Choose(request.Headers.Accept) ??
                throw new ServeException(406, $"Accept '{request.Headers.Accept}' asks for nothing this server answers; ask for one of {string.Join(", ", Negotiation.AcceptTypes)}");
            var attributes = CustomAttributes.Parse(request.Headers[CustomAttributes.Header]);
            if (attributes.Ignored.Count > 0)
                what = $"custom attributes ignored: {string.Join(", ", attributes.Ignored)}; ";
            if (request.ContentLength > _options.MaxBodyBytes)
                throw new ServeException(413, $"the body of {request.ContentLength / (double)ServeOptions.MB:0.##} MB is over the {_options.MaxBodyBytes / (double)ServeOptions.MB:0.##} MB limit (--max-body-mb)");

            var timeout = _options.RequestTimeout;
            using var slot = queue.Admit();
            byte[] body = await RequestBody.ReadAsync(request, _options.MaxBodyBytes, timeout, aborted);
            if (declared == false && Negotiation.Sniff(body) is null)
                throw new ServeException(415, $"the body sent as {(string.IsNullOrWhiteSpace(request.ContentType) ? "no Content-Type" : $"'{request.ContentType}'")} is neither PNG nor JPEG (it begins {Negotiation.Head(body)}); send a PNG or JPEG");
            var (width, height) = ImageFile.PeekSize(body) ?? throw new ServeException(400, $"the body ({body.Length} bytes) is not a PNG or JPEG image");
            double megapixels = (double)width * height / 1e6;
            if (megapixels > _options.MaxMegapixels)
                throw new ServeException(413, $"the image is {width}×{height} ({megapixels:F1} megapixels); this server takes at most {_options.MaxMegapixels:0.#} (--max-megapixels)");
            what += $"{width}×{height}{(attributes.Flip ? " flip" : "")} → {kind}";
            queue.Reserve(slot, width * (long)height, timeout - Stopwatch.GetElapsedTime(arrived));

            var invocation = new Invocation(body, kind, attributes.Flip, _options.MaxResponseBytes, arrived);
            var job = queue.Run(slot, () => RunCollected(invocation, width * (long)height));
            var answer = await Await(job, timeout - Stopwatch.GetElapsedTime(arrived), aborted);
            context.Response.ContentType = answer.ContentType;
            context.Response.ContentLength = answer.Body.Length;
            await context.Response.Body.WriteAsync(answer.Body, aborted);
        }
        catch (ServeException e)
        {
            status = e.Status;
            what += e.Message;
            await Error(context, e.Status, e.Message);
        }
        catch (Exception) when (aborted.IsCancellationRequested)
        {
            status = 499;
            what += "the client went away";
        }
        catch (Microsoft.AspNetCore.Http.BadHttpRequestException e)
        {
            status = e.StatusCode;
            what += $"Kestrel: {e.Message}";
            await Error(context, e.StatusCode, "the request could not be read; send it whole");
        }
        catch (Exception e)
        {
            status = 500;
            string detail = Describe(e);
            what += $"{e.GetType().Name}: {detail}";
            await Error(context, 500, e is ExternalException or OutOfMemoryException
                ? $"prediction failed: {detail}"
                : $"prediction failed (request {id}; the server log has the details)");
        }
        finally
        {
            if (_stopping.IsCancellationRequested && status is 503 && _cut.IsCancellationRequested)
                Interlocked.Increment(ref _cutWhileStopping);
            else if (_stopping.IsCancellationRequested)
                Interlocked.Increment(ref _answeredWhileStopping);
            Volatile.Write(ref _released, 0);
            Log($"POST /invocations {status} #{id} {what} {Stopwatch.GetElapsedTime(arrived).TotalMilliseconds:F0} ms");
        }
    }

    /// <summary>
    /// Runs the invocation; after a large image, collects its garbage at once. An image of several megapixels leaves ~14 bytes
    /// a pixel of large arrays behind, and the .NET collector, left alone, lets several requests' worth pile up first (measured
    /// with 64 concurrent 16-megapixel requests: peak resident memory 1.8 GB without, see docs/performance.md).
    /// </summary>
    Answer RunCollected(Invocation invocation, long pixels)
    {
        try
        {
            return invocation.Run(Predict, _model, _predictor?.Options.Precision ?? "");
        }
        finally
        {
            if (pixels >= CollectFrom)
                GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: false);
        }
    }

    const long CollectFrom = 2_000_000;

    /// <summary>
    /// The job's answer, or a 5xx when it takes too long: 503 while it still waits for a model thread (it then never runs,
    /// as Triton's REJECT timeout action), 504 once it runs (the pass finishes and is thrown away). The same when the server
    /// is cut at the end of its grace period.
    /// </summary>
    async Task<Answer> Await(PredictionQueue.Job<Answer> job, TimeSpan left, CancellationToken aborted)
    {
        using var wait = CancellationTokenSource.CreateLinkedTokenSource(aborted, _cut.Token);
        try
        {
            return await job.Result.WaitAsync(left > TimeSpan.Zero ? left : TimeSpan.Zero, wait.Token);
        }
        catch (Exception e) when (e is TimeoutException || (e is OperationCanceledException && !aborted.IsCancellationRequested))
        {
            bool waiting = job.Abandon();
            if (_cut.IsCancellationRequested)
                throw new ServeException(503, "the server is shutting down and its grace period is over; retry on another instance");
            string timeout = $"{_options.RequestTimeout.TotalSeconds:0.#} s timeout (--timeout, {SageMakerEnvironment.ModelServerTimeout})";
            throw waiting
                ? new ServeException(503, $"no model thread was free within the {timeout}; retry later")
                : new ServeException(504, $"the prediction did not finish within the {timeout}");
        }
        catch (OperationCanceledException)
        {
            job.Abandon();
            throw;
        }
    }

    /// <summary>Once nothing has been admitted for <see cref="IdleBeforeRelease"/> after a request, gives free memory back.</summary>
    void ReleaseMemoryWhenIdle()
    {
        if (_queue is not { } queue || Volatile.Read(ref _released) == 1 || queue.Idle < IdleBeforeRelease)
            return;
        Volatile.Write(ref _released, 1);
        long before = Environment.WorkingSet;
        var clock = Stopwatch.StartNew();
        string how = FreeMemory.Release();
        Log($"idle: {how}, resident {before / 1e6:F0} → {Environment.WorkingSet / 1e6:F0} MB in {clock.Elapsed.TotalMilliseconds:F0} ms");
    }

    static async Task Error(HttpContext context, int status, string message)
    {
        if (context.Response.HasStarted)
            return;
        context.Response.StatusCode = status;
        if (status is 429 or 503)
            context.Response.Headers.RetryAfter = "1";
        context.Response.ContentType = "application/json";
        try
        {
            await context.Response.WriteAsync(System.Text.Json.JsonSerializer.Serialize(new { error = message, status }) + "\n");
        }
        catch (Exception e) when (e is IOException or OperationCanceledException)
        {
            // the client is gone
        }
    }

    static string Describe(Exception e) => e switch
    {
        OutOfMemoryException => "out of memory",
        ExternalException when e.Message.Contains("can't allocate memory", StringComparison.OrdinalIgnoreCase) ||
                               e.Message.Contains("not enough memory", StringComparison.OrdinalIgnoreCase) ||
                               e.Message.Contains("out of memory", StringComparison.OrdinalIgnoreCase) => $"out of memory (libtorch: {FirstLine(e.Message)})",
        ExternalException => $"libtorch: {FirstLine(e.Message)}",
        BadInputException b => b.Message,
        _ => FirstLine(e.Message),
    };

    static string FirstLine(string text) => text.Split('\n', 2)[0].Trim();

    void Log(string line)
    {
        lock (_logLock)
        {
            _log.WriteLine($"{DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture)} {line}");
            _log.Flush();
        }
    }
}
