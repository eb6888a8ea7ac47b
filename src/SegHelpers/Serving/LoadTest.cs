using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace SegHelpers.Serving;

/// <summary>One concurrency level of <see cref="LoadTest"/>: throughput and latency percentiles of the answered requests.</summary>
/// <param name="Clients">Concurrent clients, each sending its next request when the last is answered.</param>
/// <param name="Requests">Requests answered 200.</param>
/// <param name="Failed">Requests answered otherwise (429 included).</param>
/// <param name="Seconds">Wall time of the level.</param>
/// <param name="P50">Median latency, ms.</param>
/// <param name="P95">95th percentile latency, ms.</param>
/// <param name="P99">99th percentile latency, ms.</param>
public sealed record LoadLevel(int Clients, int Requests, int Failed, double Seconds, double P50, double P95, double P99)
{
    /// <summary>Answered requests per second.</summary>
    public double Throughput => Requests / Seconds;
}

/// <summary>The server's resident memory, sampled every <paramref name="Every"/> requests after a warm-up.</summary>
/// <param name="Every">Requests between samples.</param>
/// <param name="Megabytes">The samples.</param>
/// <param name="Process">The process sampled: its id and command line.</param>
public sealed record MemoryTrace(int Every, IReadOnlyList<double> Megabytes, string Process)
{
    /// <summary>Last sample against the first, in percent.</summary>
    public double DriftPercent => 100 * (Megabytes[^1] - Megabytes[0]) / Megabytes[0];

    /// <summary>Largest minus smallest sample, in percent of the first.</summary>
    public double RangePercent => 100 * (Megabytes.Max() - Megabytes.Min()) / Megabytes[0];
}

/// <summary>
/// A bounded load test of a <see cref="ServerProcess"/> on loopback: closed-loop clients (each sends its next request when
/// its last is answered) at given concurrency levels, and resident memory across many requests. A benchmark, not a test:
/// it reports figures and asserts nothing about them.
/// </summary>
public static class LoadTest
{
    /// <summary>Sends <paramref name="requests"/> requests from <paramref name="clients"/> concurrent clients, stopping early at <paramref name="limit"/>.</summary>
    public static async Task<LoadLevel> RunAsync(ServerProcess server, byte[] image, int clients, int requests, TimeSpan limit, string accept = "image/png")
    {
        var latencies = new List<double>();
        int failed = 0, next = 0;
        var clock = Stopwatch.StartNew();
        async Task Client()
        {
            while (Interlocked.Increment(ref next) <= requests && clock.Elapsed < limit)
            {
                var started = Stopwatch.GetTimestamp();
                using var response = await server.SendAsync(image, accept);
                await response.Content.ReadAsByteArrayAsync();
                double ms = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
                lock (latencies)
                {
                    if (response.IsSuccessStatusCode)
                        latencies.Add(ms);
                    else
                        failed++;
                }
            }
        }
        await Task.WhenAll(Enumerable.Range(0, clients).Select(_ => Task.Run(Client)));
        double seconds = clock.Elapsed.TotalSeconds;
        var latency = Latency.Of(latencies);
        return new LoadLevel(clients, latency.Count, failed, seconds, latency.P50, latency.P95, latency.P99);
    }

    /// <summary>Resident memory of the server every <paramref name="every"/> of <paramref name="requests"/> requests (4 clients), after <paramref name="warmup"/> untimed ones.</summary>
    public static async Task<MemoryTrace> MemoryAsync(ServerProcess server, byte[] image, int requests = 1000, int every = 100, int warmup = 50)
    {
        await RunAsync(server, image, 4, warmup, TimeSpan.FromHours(1));
        var samples = new List<double> { server.ResidentBytes / 1e6 };
        for (int done = 0; done < requests; done += every)
        {
            await RunAsync(server, image, 4, every, TimeSpan.FromHours(1));
            samples.Add(server.ResidentBytes / 1e6);
        }
        return new MemoryTrace(every, samples, $"pid {server.Id}: {server.CommandLine}");
    }

    /// <summary>The levels and the memory trace as Markdown tables.</summary>
    public static string Markdown(IEnumerable<LoadLevel> levels, MemoryTrace? memory)
    {
        var inv = CultureInfo.InvariantCulture;
        var md = new StringBuilder("| clients | requests | not 200 | requests/s | p50 ms | p95 ms | p99 ms |\n|---:|---:|---:|---:|---:|---:|---:|\n");
        foreach (var l in levels)
            md.AppendLine(inv, $"| {l.Clients} | {l.Requests} | {l.Failed} | {l.Throughput:F2} | {l.P50:F0} | {l.P95:F0} | {l.P99:F0} |");
        if (memory is not null)
        {
            md.AppendLine();
            md.AppendLine(inv, $"Resident memory every {memory.Every} requests after the warm-up: {string.Join(", ", memory.Megabytes.Select(m => m.ToString("F0", inv)))} MB; " +
                               $"drift {memory.DriftPercent:+0.00;-0.00} %, range {memory.RangePercent:F2} %.");
        }
        return md.ToString();
    }
}
