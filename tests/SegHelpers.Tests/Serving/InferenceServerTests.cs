using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using SegHelpers.Data;
using SegHelpers.Evaluation;
using SegHelpers.Tests.Cli;
using SegHelpers.Tests.Data;
using SegHelpers.Tests.Downloads;
using SegServe;
using static TorchSharp.torch;

namespace SegHelpers.Tests.Serving;

/// <summary><c>seg serve</c>'s server, started in-process on an ephemeral loopback port and driven through real HTTP.</summary>
public class InferenceServerTests
{
    internal static readonly HttpClient Http = new() { Timeout = TimeSpan.FromMinutes(2) };

    internal static ServeOptions Options(string model) => new(model, Host: "127.0.0.1", Port: 0, Size: (32, 96), Threads: 1);

    internal static async Task<InferenceServer> Ready(ServeOptions options, Action<RgbImage>? beforePrediction = null)
    {
        var server = await InferenceServer.StartAsync(options, TextWriter.Null, beforePrediction);
        await server.Loaded;
        return server;
    }

    internal static Uri At(InferenceServer server, string path) => new(server.Address, path);

    internal static HttpRequestMessage Invocation(InferenceServer server, byte[] body, string contentType = "image/png", string? accept = null, string? attributes = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, At(server, "/invocations")) { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        if (accept is not null)
            request.Headers.TryAddWithoutValidation("Accept", accept);
        if (attributes is not null)
            request.Headers.Add(CustomAttributes.Header, attributes);
        return request;
    }

    internal static byte[] Png(int width, int height, int seed = 1)
    {
        var pixels = new byte[width * height * 3];
        new Random(seed).NextBytes(pixels);
        return ImageFile.EncodePng(new RgbImage(width, height, pixels));
    }

    /// <summary>The error body: one line of JSON with the status and a message.</summary>
    internal static async Task<string> OneLineError(HttpResponseMessage response, HttpStatusCode expected)
    {
        string body = await response.Content.ReadAsStringAsync();
        Assert.True(expected == response.StatusCode, $"expected {(int)expected}, got {(int)response.StatusCode}: {body}");
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        Assert.DoesNotContain('\n', body.TrimEnd('\n'));
        var json = JsonDocument.Parse(body).RootElement;
        Assert.Equal((int)expected, json.GetProperty("status").GetInt32());
        return json.GetProperty("error").GetString()!;
    }

    [Fact]
    public async Task Ping_is_503_until_the_model_has_predicted_once_then_200()
    {
        using var dir = new TempDir();
        using var release = new ManualResetEventSlim();
        await using var server = await InferenceServer.StartAsync(Options(EvalCommandsTests.TinyCheckpoint(dir)), TextWriter.Null, _ => release.Wait());

        HttpResponseMessage before, early;
        bool loadedEarly;
        try
        {
            before = await Http.GetAsync(At(server, "/ping"));
            // the warm-up prediction waits for the release, so loading cannot finish before the invocation below (if it
            // did, the invocation would wait for the release in its own prediction, and the release waits for it)
            loadedEarly = await Task.WhenAny(server.Loaded, Task.Delay(TimeSpan.FromSeconds(2))) == server.Loaded;
            using var soon = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            early = await Http.SendAsync(Invocation(server, Png(64, 24)), soon.Token);
        }
        finally
        {
            release.Set();
        }
        await server.Loaded;
        var after = await Http.GetAsync(At(server, "/ping"));

        Assert.False(loadedEarly, "loading finished before the warm-up prediction was released");
        Assert.Contains("loading", await OneLineError(before, HttpStatusCode.ServiceUnavailable));
        Assert.Contains("loading", await OneLineError(early, HttpStatusCode.ServiceUnavailable));
        Assert.Equal(HttpStatusCode.OK, after.StatusCode);
        Assert.Equal(ServerState.Ready, server.State);
    }

    [Fact]
    public async Task Execution_parameters_tell_batch_transform_the_concurrency_and_payload()
    {
        using var dir = new TempDir();
        await using var server = await Ready(Options(EvalCommandsTests.TinyCheckpoint(dir)) with { Workers = 2, Threads = 2, MaxBodyBytes = 20 * 1048576 });

        var json = JsonDocument.Parse(await Http.GetStringAsync(At(server, "/execution-parameters"))).RootElement;

        Assert.Equal(2, json.GetProperty("MaxConcurrentTransforms").GetInt32());
        Assert.Equal("SINGLE_RECORD", json.GetProperty("BatchStrategy").GetString());
        Assert.Equal(20, json.GetProperty("MaxPayloadInMB").GetInt32());
    }

    [Fact]
    public async Task Invocations_answer_the_map_mask_overlay_or_summary_that_accept_asks_for()
    {
        using var dir = new TempDir();
        string model = EvalCommandsTests.TinyCheckpoint(dir);
        await using var server = await Ready(Options(model));
        byte[] image = Png(100, 30);
        RoadProbability expected, flipped;
        using (var predictor = RoadPredictor.Load(model, new PredictionOptions(32, 96, Device: "cpu", Backend: "onnxruntime")))
        {
            expected = predictor.Predict(ImageFile.DecodeRgb(image, "test"));
            flipped = predictor.Predict(ImageFile.DecodeRgb(image, "test"), flip: true);
        }

        async Task<(string Type, byte[] Body)> Ask(string? accept, string? attributes = null, string contentType = "image/png", byte[]? body = null)
        {
            var response = await Http.SendAsync(Invocation(server, body ?? image, contentType, accept, attributes));
            Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
            return (response.Content.Headers.ContentType!.MediaType!, await response.Content.ReadAsByteArrayAsync());
        }

        var map = await Ask(null);
        var mask = await Ask("image/png;output=mask");
        var overlay = await Ask("image/jpeg");
        var summary = await Ask("application/json");
        var preferred = await Ask("text/html, application/json;q=0.9, image/png;q=0.5");
        var flip = await Ask("image/png", "flip=true");
        var fromJpeg = await Ask("application/json", contentType: "application/x-image", body: ImageFile.EncodeJpeg(ImageFile.DecodeRgb(image, "test")));

        Assert.Equal("image/png", map.Type);
        Assert.Equal(ImageFile.EncodeGrayPng(100, 30, expected.Values), map.Body);
        Assert.Equal(ImageFile.EncodeGrayPng(100, 30, Overlay.BinaryMask(expected)), mask.Body);
        Assert.NotEqual(map.Body, flip.Body);
        Assert.Equal(ImageFile.EncodeGrayPng(100, 30, flipped.Values), flip.Body);
        var tinted = ImageFile.DecodeRgb(overlay.Body, "overlay");
        Assert.Equal(("image/jpeg", 100, 30), (overlay.Type, tinted.Width, tinted.Height));
        // The tint is this prediction's: the overlay drawn from it, through the same JPEG encoder, and far from an untinted image or
        // one tinted with the opposite prediction (the precondition: the prediction has both road and other pixels).
        var source = ImageFile.DecodeRgb(image, "test");
        Assert.InRange(expected.Classes().Count(c => c == RoadLabel.Road), 30, 2970);
        RgbImage AsServed(RgbImage drawn) => ImageFile.DecodeRgb(ImageFile.EncodeJpeg(drawn, 90), "drawn");
        var opposite = new RoadProbability(100, 30, [.. expected.Values.Select(v => (byte)(255 - v))]);
        double mine = MeanDifference(tinted, AsServed(Overlay.Road(source, expected)));
        Assert.True(mine < 1, $"the overlay is {mine:F1} levels from Overlay.Road of its prediction");
        Assert.True(MeanDifference(tinted, AsServed(source)) > mine + 5, "the overlay is as close to the untinted image");
        Assert.True(MeanDifference(tinted, AsServed(Overlay.Road(source, opposite))) > mine + 5, "the overlay is as close to the opposite prediction's");
        var json = JsonDocument.Parse(summary.Body).RootElement;
        Assert.Equal("application/json", summary.Type);
        Assert.Equal(expected.Values.Count(v => v >= 128) / 3000.0, json.GetProperty("road_fraction").GetDouble(), 12);
        Assert.Equal((100, 30, "fp32", false), (json.GetProperty("width").GetInt32(), json.GetProperty("height").GetInt32(), json.GetProperty("precision").GetString(), json.GetProperty("flip").GetBoolean()));
        Assert.StartsWith("fcn8s, width ÷16, ONNX Runtime CPUExecutionProvider, exported at load, input 32×96", json.GetProperty("model").GetString());
        Assert.True(json.GetProperty("milliseconds").GetDouble() > 0);
        Assert.Equal("application/json", preferred.Type);
        Assert.Equal(100, JsonDocument.Parse(fromJpeg.Body).RootElement.GetProperty("width").GetInt32());
    }

    static double MeanDifference(RgbImage a, RgbImage b)
    {
        Assert.Equal((a.Width, a.Height), (b.Width, b.Height));
        return a.Pixels.Zip(b.Pixels, (x, y) => Math.Abs(x - y)).Average();
    }

    [Fact]
    public async Task Bad_input_is_a_4xx_with_a_one_line_json_error_and_the_next_request_is_served()
    {
        using var dir = new TempDir();
        var log = new StringWriter();
        await using var server = await InferenceServer.StartAsync(Options(EvalCommandsTests.TinyCheckpoint(dir)) with { MaxBodyBytes = ServeOptions.MB, MaxMegapixels = 16 }, TextWriter.Synchronized(log), null);
        await server.Loaded;
        byte[] good = Png(64, 24);
        byte[] truncated = good[..(good.Length / 2)];
        byte[] huge = ImageFile.EncodeGrayPng(10_000, 5_000, new byte[10_000 * 5_000]); // 50 megapixels, a small file
        byte[] oversized = Png(620, 620); // random pixels do not compress: 1.15 MB
        var cases = new (string Name, HttpRequestMessage Request, HttpStatusCode Status, string Says)[]
        {
            ("empty body", Invocation(server, []), HttpStatusCode.BadRequest, "empty"),
            ("not an image", Invocation(server, "hello, road"u8.ToArray()), HttpStatusCode.BadRequest, "not a PNG or JPEG"),
            ("truncated PNG", Invocation(server, truncated), HttpStatusCode.BadRequest, "truncated"),
            ("50 megapixels", Invocation(server, huge), HttpStatusCode.RequestEntityTooLarge, "10000×5000 (50.0 megapixels)"),
            ("body over the limit", Invocation(server, oversized), HttpStatusCode.RequestEntityTooLarge, "over the 1 MB limit"),
            ("unsupported Accept", Invocation(server, good, accept: "text/html"), HttpStatusCode.NotAcceptable, "image/png;output=mask"),
            ("not an image type", Invocation(server, good, contentType: "text/plain"), HttpStatusCode.UnsupportedMediaType, "image/png"),
            ("flip neither true nor false", Invocation(server, good, attributes: "flip=maybe"), HttpStatusCode.BadRequest, "flip takes true or false"),
            ("custom attributes over 1,024 characters", Invocation(server, good, attributes: "trace_id=" + new string('a', 1016)), HttpStatusCode.BadRequest, "at most 1024"),
            ("octet-stream that is no image", Invocation(server, "<html>road</html>"u8.ToArray(), contentType: "application/octet-stream"), HttpStatusCode.UnsupportedMediaType, "'application/octet-stream' is neither PNG nor JPEG (it begins 3c68746d6c3e726f)"),
        };
        Assert.True(huge.Length < ServeOptions.MB && oversized.Length > ServeOptions.MB, $"{huge.Length} and {oversized.Length} bytes");

        foreach (var (name, request, status, says) in cases)
        {
            var response = await Http.SendAsync(request);
            Assert.Contains(says, await OneLineError(response, status));
            var next = await Http.SendAsync(Invocation(server, good));
            Assert.True(next.StatusCode == HttpStatusCode.OK, $"after {name}: {(int)next.StatusCode}");
        }
        Assert.Equal(HttpStatusCode.OK, (await Http.GetAsync(At(server, "/ping"))).StatusCode);
        string logged = log.ToString();
        foreach (var status in cases.Select(c => (int)c.Status).Distinct())
            Assert.Contains($"POST /invocations {status} ", logged);
    }

    [Fact]
    public async Task A_libtorch_error_or_out_of_memory_is_a_500_for_that_request_and_ping_tells_whether_the_model_still_works()
    {
        using var dir = new TempDir();
        bool broken = false;
        void Provoke(RgbImage image)
        {
            if (image.Width == 13 || broken)
                zeros(2).view(3); // libtorch refuses: shape '[3]' is invalid for input of size 2
            if (image.Width == 17)
                empty(1L << 50, ScalarType.Byte); // libtorch cannot allocate a petabyte
        }
        await using var server = await Ready(Options(EvalCommandsTests.TinyCheckpoint(dir)), Provoke);

        var libtorch = await Http.SendAsync(Invocation(server, Png(13, 20)));
        var outOfMemory = await Http.SendAsync(Invocation(server, Png(17, 20)));
        var next = await Http.SendAsync(Invocation(server, Png(64, 24)));
        var stillWorks = await Http.GetAsync(At(server, "/ping"));
        broken = true;
        var failing = await Http.SendAsync(Invocation(server, Png(64, 24)));
        var noLongerWorks = await Http.GetAsync(At(server, "/ping"));

        Assert.Contains("libtorch: shape '[3]' is invalid", await OneLineError(libtorch, HttpStatusCode.InternalServerError));
        Assert.Contains("out of memory", await OneLineError(outOfMemory, HttpStatusCode.InternalServerError));
        Assert.Equal(HttpStatusCode.OK, next.StatusCode);
        Assert.Equal(HttpStatusCode.OK, stillWorks.StatusCode);
        await OneLineError(failing, HttpStatusCode.InternalServerError);
        Assert.Contains("no longer predicts", await OneLineError(noLongerWorks, HttpStatusCode.ServiceUnavailable));
        Assert.Equal(ServerState.Failed, server.State);
    }

    [Fact]
    public async Task Past_the_queue_limit_a_request_is_refused_with_429_at_once()
    {
        using var dir = new TempDir();
        using var release = new ManualResetEventSlim();
        int started = 0;
        await using var server = await Ready(Options(EvalCommandsTests.TinyCheckpoint(dir)) with { Workers = 1, QueueLimit = 1 }, image =>
        {
            if (image.Width != 64)
                return;
            Interlocked.Increment(ref started);
            release.Wait();
        });

        var running = Http.SendAsync(Invocation(server, Png(64, 24)));
        SpinWait.SpinUntil(() => Volatile.Read(ref started) == 1, TimeSpan.FromSeconds(30));
        var waiting = Http.SendAsync(Invocation(server, Png(64, 24, seed: 2)));
        Assert.True(SpinWait.SpinUntil(() => server.InSystem >= 2, TimeSpan.FromSeconds(20)), $"{server.InSystem} of 2 requests admitted");
        HttpResponseMessage refused;
        try
        {
            using var soon = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            var clock = Stopwatch.StartNew();
            refused = await Http.SendAsync(Invocation(server, Png(64, 24, seed: 3)), soon.Token);
            // "At once": while both requests ahead of it are still held, not after them (a hold that ends makes this 20 s).
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(1), $"the 429 took {clock.Elapsed.TotalSeconds:F1} s");
            Assert.False(running.IsCompleted || waiting.IsCompleted, "the requests ahead were still held when the 429 came");
        }
        finally
        {
            release.Set();
        }

        Assert.Contains("busy", await OneLineError(refused, HttpStatusCode.TooManyRequests));
        Assert.Equal("1", refused.Headers.RetryAfter?.ToString());
        Assert.Equal(HttpStatusCode.OK, (await running).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await waiting).StatusCode);
    }

    [Fact]
    public async Task Stopping_answers_the_requests_in_flight_first()
    {
        using var dir = new TempDir();
        using var release = new ManualResetEventSlim();
        int started = 0;
        var server = await Ready(Options(EvalCommandsTests.TinyCheckpoint(dir)), image =>
        {
            if (image.Width == 64)
            {
                Interlocked.Increment(ref started);
                release.Wait();
            }
        });

        var inFlight = Http.SendAsync(Invocation(server, Png(64, 24)));
        SpinWait.SpinUntil(() => Volatile.Read(ref started) == 1, TimeSpan.FromSeconds(30));
        var stopping = server.StopAsync();
        await Task.Delay(300);
        bool stoppedEarly = stopping.IsCompleted;
        release.Set();
        var answer = await inFlight;
        await stopping;

        Assert.False(stoppedEarly, "the server stopped with a request in flight");
        Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
        await Assert.ThrowsAsync<HttpRequestException>(() => Http.GetAsync(At(server, "/ping")));
        await server.DisposeAsync();
    }

    /// <summary>Served by default (<c>null</c>: ONNX Runtime, a checkpoint exported at load) and on libtorch when asked.</summary>
    [Theory]
    [InlineData(null)]
    [InlineData("libtorch")]
    public async Task Served_maps_equal_the_files_seg_predict_writes_on_the_same_backend(string? backend)
    {
        using var dir = new TempDir();
        string model = EvalCommandsTests.TinyCheckpoint(dir);
        using var dataDir = new TempDir();
        string data = Kitti.Synthetic(dataDir, count: 5, height: 60, width: 200);
        await AssertSameMaps(model, Path.Combine(data, "training", "image_2"), dir["predicted"], ["--size", "32x96"], (32, 96), backend);
    }

    [KittiSampleTheory]
    [InlineData(null)]
    [InlineData("libtorch")]
    public async Task Served_maps_equal_the_files_seg_predict_writes_on_the_same_backend_on_the_real_sample(string? backend)
    {
        using var dir = new TempDir();
        string model = EvalCommandsTests.TinyCheckpoint(dir);
        await AssertSameMaps(model, Path.Combine(KittiSampleFactAttribute.Folder, "training", "image_2"), dir["predicted"], [], null, backend);
    }

    /// <summary>
    /// <c>seg predict</c> over <paramref name="images"/>, then every image sent to the server, with and without flip, the server on
    /// <paramref name="backend"/> (its default where null, which must be ONNX Runtime's here: fp32 on the CPU) and predict on the
    /// backend the server says it runs. The server runs one image per pass, so the same options are <c>--batch-size 1</c>:
    /// libtorch's kernels may round differently for another batch size.
    /// </summary>
    static async Task AssertSameMaps(string model, string images, string output, string[] sizeArgs, (int, int)? size, string? backend)
    {
        await using var server = await Ready(new ServeOptions(model, Host: "127.0.0.1", Port: 0, Device: "cpu", Size: size, Backend: backend));
        string runs = (backend ?? "onnxruntime") == "onnxruntime" ? "ONNX Runtime CPUExecutionProvider, exported at load" : "libtorch";
        Assert.Contains($", {runs}, input ", server.Model, StringComparison.Ordinal);
        string[] backendArgs = ["--backend", backend ?? "onnxruntime", "--batch-size", "1", .. sizeArgs];
        var (exit, _, stderr) = Seg.Run(["predict", "--model", model, "--input", images, "--out", output, .. backendArgs]);
        Assert.True(exit == 0, stderr);
        var (flipExit, _, flipErr) = Seg.Run(["predict", "--model", model, "--input", images, "--out", output + "-flip", "--flip", .. backendArgs]);
        Assert.True(flipExit == 0, flipErr);
        var files = Directory.GetFiles(images, "*.png").Order().ToList();
        Assert.NotEmpty(files);
        foreach (string file in files)
        {
            string name = Path.GetFileName(file);
            var plain = await Http.SendAsync(Invocation(server, File.ReadAllBytes(file)));
            var flipped = await Http.SendAsync(Invocation(server, File.ReadAllBytes(file), attributes: "flip=true"));
            byte[] served = await plain.Content.ReadAsByteArrayAsync(), servedFlip = await flipped.Content.ReadAsByteArrayAsync();
            Assert.True(File.ReadAllBytes(Path.Combine(output, "probs", name)).AsSpan().SequenceEqual(served), $"{name}: the served map differs");
            Assert.True(File.ReadAllBytes(Path.Combine(output + "-flip", "probs", name)).AsSpan().SequenceEqual(servedFlip), $"{name}: the served flip map differs");
        }
    }
}
