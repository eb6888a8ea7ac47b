using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text.RegularExpressions;
using SegHelpers.Data;

namespace SegHelpers.Tests.Cli;

/// <summary><c>seg serve</c> as SageMaker runs it: a process, stopped with SIGTERM.</summary>
public class ServeCommandTests
{
    /// <summary>A request body that sends its first half, then waits for <see cref="Rest"/> before sending the rest.</summary>
    sealed class HalfThenRest(byte[] body) : HttpContent
    {
        public TaskCompletionSource HalfSent { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource Rest { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
        {
            await stream.WriteAsync(body.AsMemory(0, body.Length / 2));
            await stream.FlushAsync();
            HalfSent.SetResult();
            await Rest.Task;
            await stream.WriteAsync(body.AsMemory(body.Length / 2));
        }

        protected override bool TryComputeLength(out long length)
        {
            length = body.Length;
            return true;
        }
    }

    [Fact]
    public async Task Sigterm_lets_the_request_in_flight_finish_then_seg_serve_exits_0()
    {
        using var dir = new TempDir();
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string a in new[] { Path.Combine(AppContext.BaseDirectory, "seg.dll"), "serve", "--model", EvalCommandsTests.TinyCheckpoint(dir),
                     "--host", "127.0.0.1", "--port", "0", "--size", "32x96", "--device", "cpu" })
            start.ArgumentList.Add(a);
        using var seg = Process.Start(start)!;
        var stderr = seg.StandardError.ReadToEndAsync();
        try
        {
            Uri? address = null;
            string? line;
            while (address is null && (line = await seg.StandardOutput.ReadLineAsync()) is not null)
                if (Regex.Match(line, @"listening on (http://\S+)") is { Success: true } m)
                    address = new Uri(m.Groups[1].Value);
            if (address is null)
                Assert.Fail($"no address: {await stderr}");
            var rest = seg.StandardOutput.ReadToEndAsync();
            using var http = new HttpClient { Timeout = TimeSpan.FromMinutes(2) };
            var deadline = DateTime.UtcNow.AddMinutes(1);
            while ((await http.GetAsync(new Uri(address, "/ping"))).StatusCode != HttpStatusCode.OK && DateTime.UtcNow < deadline)
                await Task.Delay(100);

            var pixels = new byte[200 * 60 * 3];
            new Random(4).NextBytes(pixels);
            var body = new HalfThenRest(ImageFile.EncodePng(new RgbImage(200, 60, pixels)));
            body.Headers.ContentType = MediaTypeHeaderValue.Parse("image/png");
            var answer = http.PostAsync(new Uri(address, "/invocations"), body);
            await body.HalfSent.Task;

            await Task.Delay(300);
            Process.Start("kill", ["-TERM", seg.Id.ToString()])!.WaitForExit();
            await Task.Delay(700);
            bool exitedEarly = seg.HasExited;
            body.Rest.SetResult();
            var response = await answer;

            Assert.False(exitedEarly, "seg serve exited with a request in flight");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal(200, ImageFile.DecodeRgb(await response.Content.ReadAsByteArrayAsync(), "map").Width);
            Assert.True(seg.WaitForExit(TimeSpan.FromMinutes(1)), "seg serve stopped after SIGTERM");
            Assert.Equal(0, seg.ExitCode);
            Assert.Contains("every request in flight was answered (1 while stopping)", await rest);
            Assert.Contains("POST /invocations 200", await rest);
        }
        finally
        {
            if (!seg.HasExited)
                seg.Kill(entireProcessTree: true);
        }
    }

    [Fact]
    public void A_model_that_cannot_be_loaded_ends_seg_serve_with_exit_2()
    {
        using var dir = new TempDir();

        var (exit, stdout, stderr) = Seg.Run("serve", "--model", dir["no-such-run"], "--host", "127.0.0.1", "--port", "0");

        Assert.Equal(2, exit);
        Assert.Contains("listening on http://127.0.0.1:", stdout);
        Assert.Contains($"error: {dir["no-such-run"]}: not found", stderr);
    }

    [Fact]
    public void Seg_bench_serve_reports_latency_percentiles_at_1_4_and_16_clients_and_the_servers_memory()
    {
        using var dir = new TempDir();

        var (exit, stdout, stderr) = Seg.Run("bench", "--serve", EvalCommandsTests.TinyCheckpoint(dir), "--serve-requests", "8", "--serve-memory", "20",
            "--device", "cpu", "--json", dir["load.json"], "--markdown", dir["load.md"]);

        Assert.True(exit == 0, stderr + stdout);
        var json = System.Text.Json.JsonDocument.Parse(File.ReadAllText(dir["load.json"])).RootElement;
        var levels = json.GetProperty("levels").EnumerateArray().ToList();
        Assert.Equal([1, 4, 16], levels.Select(l => l.GetProperty("Clients").GetInt32()));
        foreach (var level in levels)
        {
            Assert.Equal((8, 0), (level.GetProperty("Requests").GetInt32(), level.GetProperty("Failed").GetInt32()));
            double p50 = level.GetProperty("P50").GetDouble(), p95 = level.GetProperty("P95").GetDouble(), p99 = level.GetProperty("P99").GetDouble();
            Assert.True(p50 > 0 && p50 <= p95 && p95 <= p99, $"{p50} {p95} {p99}");
        }
        var memory = json.GetProperty("memory").GetProperty("Megabytes").EnumerateArray().Select(m => m.GetDouble()).ToList();
        Assert.Equal(11, memory.Count); // after the warm-up, then after every tenth of the 20 requests
        Assert.All(memory, m => Assert.InRange(m, 50, 20_000));
        // The samples are the server's: the seg serve process, not the benchmark's own.
        Assert.Matches(@"^pid \d+: \S*dotnet \S*seg\.dll serve --model ", json.GetProperty("memory").GetProperty("Process").GetString());
        Assert.Equal(0, json.GetProperty("exit").GetInt32());
        Assert.Contains("| 16 | 8 | 0 |", File.ReadAllText(dir["load.md"]));
    }
}
