using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using SegHelpers.Data;
using SegHelpers.Evaluation;
using SegHelpers.Serving;
using SegHelpers.Tests.Cli;
using SegServe;
using static SegHelpers.Tests.Serving.InferenceServerTests;

namespace SegHelpers.Tests.Serving;

/// <summary>
/// <c>seg serve</c> as SageMaker and its clients really call it: the SDK's default content type, forwarded custom attributes,
/// the timeout, SIGTERM's grace period, Batch Transform's variables, the response limit, and faulty uploads. Real HTTP on
/// loopback; a hook holds the model thread where a test needs a request to stay waiting or running.
/// </summary>
public class SageMakerWireTests
{
    static RoadProbability Expected(string model, byte[] image, bool flip = false)
    {
        using var predictor = RoadPredictor.Load(model, new PredictionOptions(32, 96, Device: "cpu"));
        return predictor.Predict(ImageFile.DecodeRgb(image, "test"), flip);
    }

    /// <summary>A hook that holds every prediction of an image <paramref name="width"/> wide until released, counting those it holds.</summary>
    sealed class Hold(int width) : IDisposable
    {
        readonly ManualResetEventSlim _release = new();
        int _held;

        public int Held => Volatile.Read(ref _held);

        public void Hook(RgbImage image)
        {
            if (image.Width != width)
                return;
            Interlocked.Increment(ref _held);
            _release.Wait();
        }

        public void WaitHeld(int count) => Assert.True(SpinWait.SpinUntil(() => Held >= count, TimeSpan.FromSeconds(30)), $"{Held} of {count} predictions held");

        public void Release() => _release.Set();

        public void Dispose()
        {
            _release.Set();
            _release.Dispose();
        }
    }

    [Fact]
    public async Task Octet_stream_and_no_content_type_are_sniffed_for_png_or_jpeg()
    {
        using var dir = new TempDir();
        string model = EvalCommandsTests.TinyCheckpoint(dir);
        await using var server = await Ready(Options(model));
        byte[] png = Png(100, 30);
        byte[] jpeg = ImageFile.EncodeJpeg(ImageFile.DecodeRgb(png, "test"));

        var sdkDefault = await Http.SendAsync(Invocation(server, png, contentType: "application/octet-stream"));
        var untyped = new HttpRequestMessage(HttpMethod.Post, At(server, "/invocations")) { Content = new ByteArrayContent(jpeg) };
        untyped.Headers.Accept.ParseAdd("application/json");
        var noType = await Http.SendAsync(untyped);

        Assert.Null(untyped.Content.Headers.ContentType);
        Assert.True(sdkDefault.StatusCode == HttpStatusCode.OK, await sdkDefault.Content.ReadAsStringAsync());
        Assert.Equal(ImageFile.EncodeGrayPng(100, 30, Expected(model, png).Values), await sdkDefault.Content.ReadAsByteArrayAsync());
        Assert.True(noType.StatusCode == HttpStatusCode.OK, await noType.Content.ReadAsStringAsync());
        Assert.Equal(100, JsonDocument.Parse(await noType.Content.ReadAsStringAsync()).RootElement.GetProperty("width").GetInt32());
    }

    [Fact]
    public async Task Custom_attributes_are_read_for_flip_and_every_other_key_is_ignored_and_logged()
    {
        using var dir = new TempDir();
        string model = EvalCommandsTests.TinyCheckpoint(dir);
        var log = new StringWriter();
        await using var server = await InferenceServer.StartAsync(Options(model), TextWriter.Synchronized(log), null);
        await server.Loaded;
        byte[] png = Png(100, 30);

        var traced = await Http.SendAsync(Invocation(server, png, attributes: "trace_id=abc"));
        var tracedFlip = await Http.SendAsync(Invocation(server, png, attributes: "trace_id=abc, tenant=road-team, flip=true"));

        Assert.True(traced.StatusCode == HttpStatusCode.OK, await traced.Content.ReadAsStringAsync());
        Assert.Equal(ImageFile.EncodeGrayPng(100, 30, Expected(model, png).Values), await traced.Content.ReadAsByteArrayAsync());
        Assert.True(tracedFlip.StatusCode == HttpStatusCode.OK, await tracedFlip.Content.ReadAsStringAsync());
        Assert.Equal(ImageFile.EncodeGrayPng(100, 30, Expected(model, png, flip: true).Values), await tracedFlip.Content.ReadAsByteArrayAsync());
        Assert.Contains("custom attributes ignored: trace_id=abc;", log.ToString());
        Assert.Contains("custom attributes ignored: trace_id=abc, tenant=road-team;", log.ToString());
    }

    [Fact]
    public async Task Past_the_timeout_a_waiting_request_is_503_a_running_one_504_and_the_next_is_served()
    {
        using var dir = new TempDir();
        using var hold = new Hold(64);
        await using var server = await Ready(Options(EvalCommandsTests.TinyCheckpoint(dir)) with { Timeout = TimeSpan.FromSeconds(2), QueueLimit = 2 }, hold.Hook);

        var clock = Stopwatch.StartNew();
        var running = Http.SendAsync(Invocation(server, Png(64, 24)));
        hold.WaitHeld(1);
        var waiting = Http.SendAsync(Invocation(server, Png(64, 24, seed: 2)));
        HttpResponseMessage ran, waited;
        try
        {
            using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            ran = await running.WaitAsync(bound.Token);
            waited = await waiting.WaitAsync(bound.Token);
        }
        finally
        {
            hold.Release();
        }
        double seconds = clock.Elapsed.TotalSeconds;
        int held = hold.Held;
        var next = await Http.SendAsync(Invocation(server, Png(64, 24, seed: 3)));

        Assert.Contains("did not finish within the 2 s timeout", await OneLineError(ran, HttpStatusCode.GatewayTimeout));
        Assert.Contains("no model thread was free within the 2 s timeout", await OneLineError(waited, HttpStatusCode.ServiceUnavailable));
        Assert.InRange(seconds, 2, 10);
        Assert.Equal(1, held); // the waiting request never ran
        Assert.Equal(HttpStatusCode.OK, next.StatusCode);
    }

    [Fact]
    public async Task Admission_comes_before_the_body_so_a_full_server_refuses_without_reading_it()
    {
        using var dir = new TempDir();
        using var hold = new Hold(64);
        await using var server = await Ready(Options(EvalCommandsTests.TinyCheckpoint(dir)) with { QueueLimit = 0 }, hold.Hook);
        var running = Http.SendAsync(Invocation(server, Png(64, 24)));
        hold.WaitHeld(1);

        // headers that announce 5 MB, and not one byte of the body
        using var client = new TcpClient();
        await client.ConnectAsync(server.Address.Host, server.Address.Port);
        var stream = client.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes($"POST /invocations HTTP/1.1\r\nHost: {server.Address.Authority}\r\nContent-Type: image/png\r\nContent-Length: 5000000\r\n\r\n"));
        var clock = Stopwatch.StartNew();
        var buffer = new byte[256];
        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        int read = await stream.ReadAsync(buffer, bound.Token);
        double seconds = clock.Elapsed.TotalSeconds;
        hold.Release();

        Assert.StartsWith("HTTP/1.1 429", Encoding.ASCII.GetString(buffer, 0, read));
        Assert.True(seconds < 1, $"429 after {seconds:F2} s");
        Assert.Equal(HttpStatusCode.OK, (await running).StatusCode);
    }

    [Fact]
    public async Task Sigterm_answers_what_finishes_within_the_grace_period_and_503s_the_rest()
    {
        using var dir = new TempDir();
        using var hold = new Hold(64);
        var server = await Ready(Options(EvalCommandsTests.TinyCheckpoint(dir)) with { ShutdownGrace = TimeSpan.FromSeconds(2) }, hold.Hook);
        try
        {
            var running = Http.SendAsync(Invocation(server, Png(64, 24)));
            hold.WaitHeld(1);
            var waiting = Http.SendAsync(Invocation(server, Png(64, 24, seed: 2)));
            Assert.True(SpinWait.SpinUntil(() => server.InSystem >= 2, TimeSpan.FromSeconds(20)), $"{server.InSystem} of 2 requests admitted");

            var clock = Stopwatch.StartNew();
            await server.StopAsync().WaitAsync(TimeSpan.FromSeconds(20));
            double seconds = clock.Elapsed.TotalSeconds;

            Assert.InRange(seconds, 1, 4);
            Assert.Contains("grace period is over", await OneLineError(await running, HttpStatusCode.ServiceUnavailable));
            Assert.Contains("grace period is over", await OneLineError(await waiting, HttpStatusCode.ServiceUnavailable));
            Assert.Contains("2 cut", server.StopReport);
            Assert.Equal(1, hold.Held);
        }
        finally
        {
            hold.Release();
            await server.DisposeAsync();
        }
    }

    [Fact]
    public async Task Sigterm_while_the_model_loads_stops_without_waiting_for_the_load()
    {
        using var dir = new TempDir();
        using var hold = new Hold(1242); // the warm-up image
        var server = await InferenceServer.StartAsync(Options(EvalCommandsTests.TinyCheckpoint(dir)), TextWriter.Null, hold.Hook);
        try
        {
            hold.WaitHeld(1);
            var clock = Stopwatch.StartNew();
            await server.StopAsync().WaitAsync(TimeSpan.FromSeconds(20));

            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"stopped after {clock.Elapsed.TotalSeconds:F1} s");
            Assert.Contains("loading was cut", server.StopReport);
        }
        finally
        {
            hold.Release();
            await server.DisposeAsync();
        }
    }

    [Fact]
    public async Task Batch_transform_variables_set_the_payload_concurrency_and_strategy_and_execution_parameters_echo_them()
    {
        using var dir = new TempDir();
        var variables = new Dictionary<string, string>
        {
            [SageMakerEnvironment.MaxPayloadInMB] = "20",
            [SageMakerEnvironment.MaxConcurrentTransforms] = "4",
            [SageMakerEnvironment.BatchStrategy] = "MULTI_RECORD",
            [SageMakerEnvironment.ModelServerTimeout] = "90",
        };
        var defaults = SageMakerEnvironment.Defaults(name => variables.GetValueOrDefault(name));
        await using var server = await Ready(defaults with { Model = EvalCommandsTests.TinyCheckpoint(dir), Host = "127.0.0.1", Port = 0, Size = (32, 96) });
        byte[] record = Png(1900, 1800); // random pixels: 10 MB
        var json = JsonDocument.Parse(await Http.GetStringAsync(At(server, "/execution-parameters"))).RootElement;
        var answer = await Http.SendAsync(Invocation(server, record, accept: "application/json"));

        Assert.InRange(record.Length, 9 * ServeOptions.MB, 20 * ServeOptions.MB);
        Assert.Equal((4, "MULTI_RECORD", 20), (json.GetProperty("MaxConcurrentTransforms").GetInt32(), json.GetProperty("BatchStrategy").GetString(), json.GetProperty("MaxPayloadInMB").GetInt32()));
        Assert.True(answer.StatusCode == HttpStatusCode.OK, await answer.Content.ReadAsStringAsync());
        Assert.Equal(TimeSpan.FromSeconds(90), defaults.RequestTimeout);
        Assert.Equal(1, (new ServeOptions() with { MaxBodyBytes = 3 * ServeOptions.MB / 2 }).MaxPayloadInMB); // rounded down, never up
        Assert.Equal(5, (new ServeOptions() with { Workers = 20 }).MaxPayloadInMB); // 20 × 6 MB would pass SageMaker's 100
        var tooMuch = Assert.Throws<ArgumentException>(() => SageMakerEnvironment.Defaults(name => name == SageMakerEnvironment.MaxConcurrentTransforms ? "30" : null));
        Assert.Contains("SAGEMAKER_MAX_CONCURRENT_TRANSFORMS (30) × SAGEMAKER_MAX_PAYLOAD_IN_MB (6) is over 100 MB", tooMuch.Message);
        var notANumber = Assert.Throws<ArgumentException>(() => SageMakerEnvironment.Defaults(name => name == SageMakerEnvironment.MaxPayloadInMB ? "6MB" : null));
        Assert.Contains("SAGEMAKER_MAX_PAYLOAD_IN_MB must be a whole number 1–100, not '6MB'", notANumber.Message);
    }

    [Fact]
    public async Task An_answer_over_the_response_limit_is_406_naming_an_accept_that_fits()
    {
        using var dir = new TempDir();
        await using var server = await Ready(Options(EvalCommandsTests.TinyCheckpoint(dir)) with { MaxResponseBytes = 64 * 1024 });
        byte[] noise = Png(400, 300); // its overlay JPEG is well over 64 kB, its mask PNG well under

        var overlay = await Http.SendAsync(Invocation(server, noise, accept: "image/jpeg"));
        var mask = await Http.SendAsync(Invocation(server, noise, accept: "image/png;output=mask"));

        string error = await OneLineError(overlay, HttpStatusCode.NotAcceptable);
        Assert.Contains("overlay (image/jpeg) of this 400×300 image is over the 0.06 MB response limit", error);
        Assert.Contains("ask for Accept: image/png;output=mask", error);
        Assert.Equal(HttpStatusCode.OK, mask.StatusCode);
        Assert.True(ImageFile.EncodeJpeg(ImageFile.DecodeRgb(noise, "noise")).Length > 64 * 1024);
    }

    [Fact]
    public async Task A_short_or_slow_upload_is_400_or_408_never_500_and_the_next_request_is_served()
    {
        using var dir = new TempDir();
        var log = new StringWriter();
        await using var server = await InferenceServer.StartAsync(Options(EvalCommandsTests.TinyCheckpoint(dir)), TextWriter.Synchronized(log), null);
        await server.Loaded;
        byte[] png = Png(200, 100);

        int shortBody = await RawRequests.TruncatedAsync(server.Address, png, png.Length / 2);
        await Task.Delay(500); // the handler logs once it is done
        var clock = Stopwatch.StartNew();
        int slowBody = await RawRequests.SlowAsync(server.Address, png, 1024);
        double slowSeconds = clock.Elapsed.TotalSeconds;
        var next = await Http.SendAsync(Invocation(server, png));

        // Kestrel closes a connection whose client has ended its side: the 400 may not reach the client, and where the end
        // arrives before the handler starts, Kestrel drops the request unlogged. What the handler answers is never a 500.
        Assert.True(shortBody is 400 or 0, $"{shortBody}: {log}");
        Assert.DoesNotMatch(@"POST /invocations 5\d\d", log.ToString());
        Assert.Equal(408, slowBody);
        Assert.InRange(slowSeconds, 4, 30); // Kestrel's grace period for the minimum data rate is 5 s
        Assert.Equal(HttpStatusCode.OK, next.StatusCode);
    }

    [Fact]
    public async Task Error_bodies_and_the_summary_carry_no_paths_or_exception_types_which_the_log_keeps()
    {
        using var dir = new TempDir();
        string model = EvalCommandsTests.TinyCheckpoint(dir);
        var log = new StringWriter();
        await using var server = await InferenceServer.StartAsync(Options(model), TextWriter.Synchronized(log), image =>
        {
            if (image.Width == 19)
                throw new InvalidOperationException($"cannot read {dir.Path}/secret");
        });
        await server.Loaded;

        var failed = await Http.SendAsync(Invocation(server, Png(19, 20)));
        var summary = await Http.SendAsync(Invocation(server, Png(64, 24), accept: "application/json"));

        string error = await OneLineError(failed, HttpStatusCode.InternalServerError);
        string json = await summary.Content.ReadAsStringAsync();
        Assert.Contains("prediction failed (request 1; the server log has the details)", error);
        foreach (string body in new[] { error, json })
        {
            Assert.DoesNotContain(dir.Path, body);
            Assert.DoesNotContain("Exception", body);
        }
        Assert.Contains($"InvalidOperationException: cannot read {dir.Path}/secret", log.ToString());
    }
}
