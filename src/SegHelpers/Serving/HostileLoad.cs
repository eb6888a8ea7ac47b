using System.Diagnostics;
using System.Globalization;
using System.Text;
using SegHelpers.Data;

namespace SegHelpers.Serving;

/// <summary>Latency percentiles of a set of timings, in ms.</summary>
/// <param name="Count">Timings.</param>
/// <param name="P50">Median.</param>
/// <param name="P95">95th percentile.</param>
/// <param name="P99">99th percentile.</param>
/// <param name="Max">Largest.</param>
public sealed record Latency(int Count, double P50, double P95, double P99, double Max)
{
    /// <summary>The percentiles of <paramref name="milliseconds"/> (NaN where there are none).</summary>
    public static Latency Of(IEnumerable<double> milliseconds)
    {
        var sorted = milliseconds.Order().ToArray();
        double At(double q) => sorted.Length == 0 ? double.NaN : sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(q * sorted.Length) - 1)];
        return new Latency(sorted.Length, At(0.5), At(0.95), At(0.99), sorted.Length == 0 ? double.NaN : sorted[^1]);
    }
}

/// <summary>A burst of decompression bombs with pings beside it, and the server's memory around it.</summary>
/// <param name="Bombs">Concurrent requests of the bomb image.</param>
/// <param name="Megapixels">The bomb's size once decoded.</param>
/// <param name="IdleMB">Resident memory before the burst.</param>
/// <param name="PeakMB">Largest resident memory sampled (every 50 ms) during the burst.</param>
/// <param name="AfterMB">Resident memory <paramref name="SettleSeconds"/> after the last answer.</param>
/// <param name="SettleSeconds">How long after the burst <paramref name="AfterMB"/> was read.</param>
/// <param name="Statuses">Answers by HTTP status (0: no answer).</param>
/// <param name="Requests">Latency of the bomb requests, whatever their answer.</param>
/// <param name="Pings">Latency of the pings sent every 0.5 s from the burst's start to the end of the settling time.</param>
/// <param name="PingsOver2s">Pings that took longer than SageMaker's 2 s or failed.</param>
public sealed record HostileBurst(int Bombs, double Megapixels, double IdleMB, double PeakMB, double AfterMB, double SettleSeconds,
    IReadOnlyDictionary<int, int> Statuses, Latency Requests, Latency Pings, int PingsOver2s)
{
    /// <summary>Answers of 500 or more.</summary>
    public int ServerErrors => Statuses.Where(s => s.Key >= 500).Sum(s => s.Value);
}

/// <summary>Minutes of mixed requests: valid images, bombs, truncated and slow uploads.</summary>
/// <param name="Minutes">Length of the soak.</param>
/// <param name="Statuses">Answers by kind of request, then by HTTP status (0: no answer).</param>
/// <param name="MemoryMB">Resident memory each <paramref name="SampleSeconds"/>.</param>
/// <param name="SampleSeconds">Seconds between memory samples.</param>
/// <param name="Pings">Latency of a ping every 0.5 s.</param>
public sealed record Soak(double Minutes, IReadOnlyDictionary<string, IReadOnlyDictionary<int, int>> Statuses, IReadOnlyList<double> MemoryMB, double SampleSeconds, Latency Pings)
{
    /// <summary>Answers of 500 or more, over every kind.</summary>
    public int ServerErrors => Statuses.Values.Sum(s => s.Where(x => x.Key >= 500).Sum(x => x.Value));
}

/// <summary>
/// <c>seg bench --serve</c>'s hostile mode: what a server meets that a quiet load test does not. A benchmark: it reports
/// figures and asserts nothing about them.
/// </summary>
public static class HostileLoad
{
    /// <summary>A PNG of <paramref name="width"/>×<paramref name="height"/> black pixels: kilobytes on the wire, megapixels once decoded.</summary>
    public static byte[] Bomb(int width = 4000, int height = 4000) => ImageFile.EncodeGrayPng(width, height, new byte[width * height]);

    /// <summary>Sends <paramref name="bombs"/> bomb requests at once (<c>Accept: image/jpeg</c>, the largest answer) with a ping every 0.5 s.</summary>
    public static async Task<HostileBurst> BurstAsync(ServerProcess server, byte[] bomb, int bombs, TimeSpan settle)
    {
        var (bw, bh) = ImageFile.PeekSize(bomb) ?? throw new ArgumentException("the bomb is not a PNG or JPEG", nameof(bomb));
        double idle = server.ResidentBytes / 1e6;
        double peak = idle;
        using var stop = new CancellationTokenSource();
        var sampler = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                peak = Math.Max(peak, server.ResidentBytes / 1e6);
                await Task.Delay(50);
            }
        });
        var pings = new List<double>();
        int slowPings = 0;
        var pinger = Task.Run(() => PingEvery(server, TimeSpan.FromMilliseconds(500), pings, () => Interlocked.Increment(ref slowPings), stop.Token));
        var statuses = new Dictionary<int, int>();
        var latencies = new List<double>();
        await Task.WhenAll(Enumerable.Range(0, bombs).Select(_ => Task.Run(async () =>
        {
            var started = Stopwatch.GetTimestamp();
            int status;
            try
            {
                using var response = await server.SendAsync(bomb, "image/jpeg");
                await response.Content.ReadAsByteArrayAsync();
                status = (int)response.StatusCode;
            }
            catch (HttpRequestException)
            {
                status = 0;
            }
            lock (statuses)
            {
                statuses[status] = statuses.GetValueOrDefault(status) + 1;
                latencies.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            }
        })));
        await Task.Delay(settle);
        double after = server.ResidentBytes / 1e6;
        stop.Cancel();
        await sampler;
        await pinger;
        return new HostileBurst(bombs, bw * (double)bh / 1e6, idle, peak, after, settle.TotalSeconds, statuses, Latency.Of(latencies), Latency.Of(pings), slowPings);
    }

    /// <summary>
    /// <paramref name="clients"/> clients for <paramref name="duration"/>, each sending one request after another: 6 in 10 a
    /// valid image, then a bomb, a truncated upload and a slow one (1 kB/s) in turn; a ping every 0.5 s.
    /// </summary>
    public static async Task<Soak> SoakAsync(ServerProcess server, byte[] valid, byte[] bomb, TimeSpan duration, int clients = 4, TimeSpan? sample = null)
    {
        var every = sample ?? TimeSpan.FromSeconds(30);
        var statuses = new Dictionary<string, Dictionary<int, int>>();
        void Count(string kind, int status)
        {
            lock (statuses)
            {
                var of = statuses.TryGetValue(kind, out var s) ? s : statuses[kind] = [];
                of[status] = of.GetValueOrDefault(status) + 1;
            }
        }
        var memory = new List<double> { server.ResidentBytes / 1e6 };
        using var stop = new CancellationTokenSource(duration);
        var pings = new List<double>();
        var pinger = Task.Run(() => PingEvery(server, TimeSpan.FromMilliseconds(500), pings, () => { }, stop.Token));
        var sampler = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    await Task.Delay(every, stop.Token);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
                lock (memory)
                    memory.Add(server.ResidentBytes / 1e6);
            }
        });
        async Task Client(int seed)
        {
            var random = new Random(seed);
            int hostile = 0;
            while (!stop.IsCancellationRequested)
            {
                if (random.Next(10) < 6)
                {
                    Count("valid", await Status(server, valid));
                    continue;
                }
                switch (hostile++ % 3)
                {
                    case 0:
                        Count("bomb", await Status(server, bomb));
                        break;
                    case 1:
                        Count("truncated", await RawRequests.TruncatedAsync(server.Address, valid, valid.Length / 2));
                        break;
                    default:
                        Count("slow", await RawRequests.SlowAsync(server.Address, valid, 1024));
                        break;
                }
            }
        }
        await Task.WhenAll(Enumerable.Range(0, clients).Select(i => Task.Run(() => Client(i))));
        await sampler;
        await pinger;
        memory.Add(server.ResidentBytes / 1e6);
        return new Soak(duration.TotalMinutes, statuses.ToDictionary(s => s.Key, s => (IReadOnlyDictionary<int, int>)s.Value), memory, every.TotalSeconds, Latency.Of(pings));
    }

    static async Task<int> Status(ServerProcess server, byte[] image)
    {
        try
        {
            using var response = await server.SendAsync(image, "image/jpeg");
            await response.Content.ReadAsByteArrayAsync();
            return (int)response.StatusCode;
        }
        catch (HttpRequestException)
        {
            return 0;
        }
    }

    static async Task PingEvery(ServerProcess server, TimeSpan every, List<double> latencies, Action slow, CancellationToken stop)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        var ping = new Uri(server.Address, "/ping");
        while (!stop.IsCancellationRequested)
        {
            var started = Stopwatch.GetTimestamp();
            bool ok;
            try
            {
                using var response = await http.GetAsync(ping, CancellationToken.None);
                ok = response.IsSuccessStatusCode;
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
                ok = false;
            }
            double ms = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            lock (latencies)
                latencies.Add(ms);
            if (!ok || ms > 2000)
                slow();
            try
            {
                await Task.Delay(every, stop);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }
    }

    /// <summary>The bursts and the soak as Markdown.</summary>
    public static string Markdown(IEnumerable<HostileBurst> bursts, Soak? soak)
    {
        var inv = CultureInfo.InvariantCulture;
        var md = new StringBuilder("| bombs | MP each | idle MB | peak MB | after MB | answers | 5xx | request p50 / p99 ms | ping p50 / p99 / max ms | pings > 2 s |\n|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|\n");
        foreach (var b in bursts)
            md.AppendLine(inv, $"| {b.Bombs} | {b.Megapixels:F1} | {b.IdleMB:F0} | {b.PeakMB:F0} | {b.AfterMB:F0} ({b.SettleSeconds:0} s after) | {Statuses(b.Statuses)} | {b.ServerErrors} | " +
                               $"{b.Requests.P50:F0} / {b.Requests.P99:F0} | {b.Pings.P50:F1} / {b.Pings.P99:F1} / {b.Pings.Max:F1} | {b.PingsOver2s} |");
        if (soak is not null)
        {
            md.AppendLine();
            md.AppendLine(inv, $"Soak of {soak.Minutes:0.#} min: {string.Join("; ", soak.Statuses.OrderBy(s => s.Key).Select(s => $"{s.Key} {Statuses(s.Value)}"))}; {soak.ServerErrors} answers of 5xx; " +
                               $"ping p50 {soak.Pings.P50:F1}, p99 {soak.Pings.P99:F1}, max {soak.Pings.Max:F1} ms; resident memory every {soak.SampleSeconds:0} s: " +
                               $"{string.Join(", ", soak.MemoryMB.Select(m => m.ToString("F0", inv)))} MB.");
        }
        return md.ToString();
    }

    static string Statuses(IReadOnlyDictionary<int, int> statuses) =>
        string.Join(", ", statuses.OrderBy(s => s.Key).Select(s => $"{s.Value}×{(s.Key == 0 ? "none" : s.Key.ToString(CultureInfo.InvariantCulture))}"));
}
