using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
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
/// model in the background; <c>/ping</c> answers 200 only after the model has predicted once. Bad input is a 4xx with a
/// one-line JSON error; a failing prediction a 500, after which the model is checked again and <c>/ping</c> says whether it
/// still works. Stopping (SIGTERM, <see cref="StopAsync"/>) finishes the requests in flight first.
/// </summary>
public sealed class InferenceServer : IAsyncDisposable
{
    static readonly JsonSerializerOptions Json = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    readonly ServeOptions _options;
    readonly TextWriter _log;
    readonly Action<RgbImage>? _beforePrediction;
    readonly WebApplication _app;
    readonly Lock _logLock = new();
    RoadPredictor? _predictor;
    PredictionQueue? _queue;
    RgbImage? _warmup;
    string _model = "";
    string? _failure;
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
            kestrel.Limits.MaxRequestBodySize = null; // enforced while reading, to answer with the JSON error
            kestrel.AddServerHeader = false;
        });
        string host = options.Host.Contains(':') ? $"[{options.Host}]" : options.Host;
        builder.WebHost.UseUrls($"http://{host}:{options.Port}");
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromMinutes(2));
        builder.Services.Configure<ConsoleLifetimeOptions>(o => o.SuppressStatusMessages = true);
        _app = builder.Build();
        _app.MapGet("/ping", Ping);
        _app.MapGet("/execution-parameters", ExecutionParameters);
        _app.MapPost("/invocations", Invoke);
    }

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

    /// <summary>Waits until the host is told to stop (SIGTERM, Ctrl+C or <see cref="StopAsync"/>), then finishes the requests in flight.</summary>
    public async Task WaitForShutdownAsync()
    {
        await _app.WaitForShutdownAsync();
        await ReleaseModel();
    }

    /// <summary>Stops accepting connections, finishes the requests in flight, then releases the model.</summary>
    public async Task StopAsync()
    {
        await _app.StopAsync();
        await ReleaseModel();
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        await _app.DisposeAsync();
    }

    async Task ReleaseModel()
    {
        try
        {
            await Loaded;
        }
        catch (Exception)
        {
            // reported when it happened
        }
        if (Interlocked.Exchange(ref _queue, null) is { } queue)
            await queue.DisposeAsync();
        Interlocked.Exchange(ref _predictor, null)?.Dispose();
    }

    void Load()
    {
        try
        {
            var clock = Stopwatch.StartNew();
            TorchNative.EnsureLoadable();
            var options = RoadPredictor.DefaultOptions(_options.Model) with { Device = _options.Device, Precision = _options.Precision, BatchSize = 1 };
            if (_options.Size is var (h, w))
                options = options with { Height = h, Width = w };
            var predictor = RoadPredictor.Load(_options.Model, options);
            _predictor = predictor;
            var fcn = predictor.Model.Options;
            _model = $"{fcn.Variant}, width ÷{fcn.WidthDivisor}, input {predictor.Options.Height}×{predictor.Options.Width} ({Path.GetFullPath(_options.Model)})";
            // A KITTI-sized mid-grey image: the first pass (oneDNN's kernel choice, allocator pools) happens before /ping says ready.
            _warmup = new RgbImage(1242, 375, Enumerable.Repeat((byte)128, 1242 * 375 * 3).ToArray());
            _beforePrediction?.Invoke(_warmup);
            predictor.Predict(_warmup, false);
            _queue = new PredictionQueue(Predict, _options.Workers, _options.QueueLimit);
            _state = ServerState.Ready;
            Log($"ready in {clock.Elapsed.TotalSeconds:F1} s: {_model}, {predictor.Options.Precision} on {Devices.Resolve(options.Device).type}, " +
                $"{_options.Workers} worker(s), queue {_options.QueueLimit}, body ≤ {_options.MaxBodyBytes / 1048576.0:0.#} MB, images ≤ {_options.MaxMegapixels:0.#} megapixels");
        }
        catch (Exception e)
        {
            _failure = Describe(e);
            _state = ServerState.Failed;
            Log($"error: the model could not be loaded: {_failure}");
            throw;
        }
    }

    RoadProbability Predict(RgbImage image, bool flip)
    {
        var predictor = _predictor ?? throw new ServeException(503, "the server is shutting down");
        try
        {
            _beforePrediction?.Invoke(image);
            return predictor.Predict(image, flip);
        }
        catch (Exception)
        {
            CheckModel(predictor);
            throw;
        }
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

    async Task Ping(HttpContext context)
    {
        if (_state == ServerState.Ready)
        {
            context.Response.StatusCode = 200;
            return;
        }
        await Error(context, 503, _state == ServerState.Failed ? _failure ?? "failed" : "the model is still loading");
    }

    Task ExecutionParameters(HttpContext context) =>
        context.Response.WriteAsJsonAsync(new Dictionary<string, object>
        {
            ["MaxConcurrentTransforms"] = _options.Workers,
            ["BatchStrategy"] = "SINGLE_RECORD",
            ["MaxPayloadInMB"] = Math.Max(1, (int)(_options.MaxBodyBytes / (1024 * 1024))),
        });

    async Task Invoke(HttpContext context)
    {
        var clock = Stopwatch.StartNew();
        string what = "";
        int status = 200;
        try
        {
            if (_state != ServerState.Ready || _queue is not { } queue)
                throw new ServeException(503, _state == ServerState.Failed ? _failure ?? "failed" : "the model is still loading; wait until GET /ping answers 200");
            var request = context.Request;
            if (!Negotiation.IsImage(request.ContentType))
                throw new ServeException(415, $"Content-Type '{request.ContentType ?? "(none)"}' is not taken; send {string.Join(", ", Negotiation.ImageTypes)}");
            var kind = Negotiation.Choose(request.Headers.Accept) ??
                throw new ServeException(406, $"Accept '{request.Headers.Accept}' asks for nothing this server answers; ask for one of {string.Join(", ", Negotiation.AcceptTypes)}");
            bool flip = Negotiation.Flip(request.Headers[Negotiation.CustomAttributesHeader]);
            byte[] body = await ReadBody(request, context.RequestAborted);
            var (width, height) = ImageFile.PeekSize(body) ?? throw new ServeException(400, $"the body ({body.Length} bytes) is not a PNG or JPEG image");
            double megapixels = (double)width * height / 1e6;
            if (megapixels > _options.MaxMegapixels)
                throw new ServeException(413, $"the image is {width}×{height} ({megapixels:F1} megapixels); this server takes at most {_options.MaxMegapixels:0.#} (--max-megapixels)");
            RgbImage image;
            try
            {
                image = ImageFile.DecodeRgb(body, "the request body");
            }
            catch (BadInputException e)
            {
                throw new ServeException(400, $"the request body: {e.Problem}");
            }
            what = $"{width}×{height}{(flip ? " flip" : "")} → {kind}";
            var probability = await queue.Enqueue(image, flip, context.RequestAborted);
            byte[] answer = kind switch
            {
                ResponseKind.ProbabilityMap => ImageFile.EncodeGrayPng(probability.Width, probability.Height, probability.Values),
                ResponseKind.Mask => ImageFile.EncodeGrayPng(probability.Width, probability.Height, Overlay.BinaryMask(probability)),
                ResponseKind.Overlay => ImageFile.EncodeJpeg(Overlay.Road(image, probability)),
                _ => JsonSerializer.SerializeToUtf8Bytes(new Summary(
                    probability.Classes().Count(c => c == RoadLabel.Road) / (double)probability.Values.Length, width, height, _model,
                    _predictor?.Options.Precision ?? "", flip, Math.Round(clock.Elapsed.TotalMilliseconds, 1)), Json),
            };
            context.Response.ContentType = Negotiation.ContentType(kind);
            context.Response.ContentLength = answer.Length;
            await context.Response.Body.WriteAsync(answer, context.RequestAborted);
        }
        catch (ServeException e)
        {
            status = e.Status;
            what = e.Message;
            await Error(context, e.Status, e.Message);
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            status = 499;
            what = "the client went away";
        }
        catch (Exception e)
        {
            status = 500;
            what = Describe(e);
            await Error(context, 500, $"prediction failed: {what}");
        }
        finally
        {
            Log($"POST /invocations {status} {what} {clock.Elapsed.TotalMilliseconds:F0} ms");
        }
    }

    async Task<byte[]> ReadBody(HttpRequest request, CancellationToken cancel)
    {
        long limit = _options.MaxBodyBytes;
        string tooLarge = $"over the {limit / 1048576.0:0.##} MB limit (--max-body-mb; SageMaker real-time endpoints take at most 6 MB)";
        if (request.ContentLength > limit)
            throw new ServeException(413, $"the body of {request.ContentLength / 1048576.0:0.##} MB is {tooLarge}");
        using var buffer = new MemoryStream();
        var chunk = new byte[81920];
        int read;
        while ((read = await request.Body.ReadAsync(chunk, cancel)) > 0)
        {
            if (buffer.Length + read > limit)
                throw new ServeException(413, $"the body is {tooLarge}");
            buffer.Write(chunk, 0, read);
        }
        if (buffer.Length == 0)
            throw new ServeException(400, "the body is empty; send the image's bytes");
        return buffer.ToArray();
    }

    static async Task Error(HttpContext context, int status, string message)
    {
        if (context.Response.HasStarted)
            return;
        context.Response.StatusCode = status;
        if (status == 429)
            context.Response.Headers.RetryAfter = "1";
        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync(JsonSerializer.Serialize(new { error = message, status }) + "\n");
    }

    static string Describe(Exception e) => e switch
    {
        OutOfMemoryException => "out of memory",
        ExternalException when e.Message.Contains("can't allocate memory", StringComparison.OrdinalIgnoreCase) ||
                               e.Message.Contains("not enough memory", StringComparison.OrdinalIgnoreCase) ||
                               e.Message.Contains("out of memory", StringComparison.OrdinalIgnoreCase) => $"out of memory (libtorch: {FirstLine(e.Message)})",
        ExternalException => $"libtorch: {FirstLine(e.Message)}",
        BadInputException b => b.Message,
        _ => $"{e.GetType().Name}: {FirstLine(e.Message)}",
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

    sealed record Summary(double RoadFraction, int Width, int Height, string Model, string Precision, bool Flip, double Milliseconds);
}
