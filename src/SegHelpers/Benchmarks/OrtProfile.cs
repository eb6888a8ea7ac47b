using System.Text.Json;

namespace SegHelpers.Benchmarks;

/// <summary>ONNX Runtime's profile (a Chrome trace: one <c>Node</c> event per kernel run, one <c>model_run</c> per session run) summed by operator type.</summary>
public static class OrtProfile
{
    /// <summary>Milliseconds per operator type (<c>args.op_name</c>), largest first; only the last <c>model_run</c>'s kernels when <paramref name="lastRunOnly"/>.</summary>
    public static IReadOnlyList<(string Op, double Ms)> ByOperator(string traceJson, bool lastRunOnly)
    {
        using var trace = JsonDocument.Parse(traceJson);
        var events = trace.RootElement.EnumerateArray().ToList();
        long from = long.MinValue, to = long.MaxValue;
        if (lastRunOnly && events.LastOrDefault(e => Name(e) == "model_run") is { ValueKind: JsonValueKind.Object } run)
            (from, to) = (run.GetProperty("ts").GetInt64(), run.GetProperty("ts").GetInt64() + run.GetProperty("dur").GetInt64());
        var totals = new Dictionary<string, double>();
        foreach (var e in events)
        {
            if (!e.TryGetProperty("cat", out var cat) || cat.GetString() != "Node" || !Name(e).EndsWith("_kernel_time", StringComparison.Ordinal))
                continue;
            long ts = e.GetProperty("ts").GetInt64();
            if (ts < from || ts > to)
                continue;
            string op = e.TryGetProperty("args", out var args) && args.TryGetProperty("op_name", out var name) ? name.GetString() ?? "?" : "?";
            totals[op] = totals.GetValueOrDefault(op) + e.GetProperty("dur").GetInt64() / 1000.0;
        }
        return [.. totals.OrderByDescending(t => t.Value).Select(t => (t.Key, t.Value))];
    }

    static string Name(JsonElement e) => e.TryGetProperty("name", out var n) ? n.GetString() ?? "" : "";
}
