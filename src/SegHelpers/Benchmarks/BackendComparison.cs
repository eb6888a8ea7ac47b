using System.Diagnostics;
using System.Globalization;
using System.Text;
using SegHelpers.Data;
using SegHelpers.Model;
using SegHelpers.Model.Weights;
using SegHelpers.Native;
using SegHelpers.Serving;

namespace SegHelpers.Benchmarks;

/// <summary>What <see cref="BackendComparison"/> measures.</summary>
/// <param name="Points">Input sizes with their batch: (height, width, batch).</param>
/// <param name="Model">A run folder or checkpoint; null: a freshly initialised FCN-8s (speed does not depend on the weights).</param>
/// <param name="WidthDivisor">For the fresh model: 1 = VGG16's widths.</param>
/// <param name="Warmup">Untimed passes per point and backend.</param>
/// <param name="Repeats">Timed passes per point and backend, the two backends alternating (which goes first alternates too).</param>
/// <param name="Threads">Threads for both (libtorch's intra-op pool, ONNX Runtime's IntraOpNumThreads); 0: one per logical core.</param>
/// <param name="ColdStarts">seg serve starts per backend, alternated: process start to the first answer (default options, as users run it),
/// libtorch on the checkpoint, ONNX Runtime on the exported file and on the checkpoint exported at load.</param>
/// <param name="Device">Where the matmul rates are measured (auto, cpu, cuda); the two backends run on the CPU.</param>
public sealed record BackendComparisonOptions(
    IReadOnlyList<(int Height, int Width, int Batch)> Points,
    string? Model = null,
    int WidthDivisor = 1,
    int Warmup = 1,
    int Repeats = 5,
    int Threads = 0,
    int ColdStarts = 2,
    string Device = "cpu")
{
    /// <summary>The issue's points: 160×576 batch 4 and KITTI's 375×1242 batch 1.</summary>
    public static IReadOnlyList<(int Height, int Width, int Batch)> DefaultPoints { get; } = [(160, 576, 4), (375, 1242, 1)];
}

/// <summary>One point: images per second on each backend, and each worker's peak resident memory once it has run this point and the ones before.</summary>
public sealed record BackendPoint(int Height, int Width, int Batch, Measurement Libtorch, Measurement OnnxRuntime, double LibtorchPeakMB, double OnnxRuntimePeakMB)
{
    /// <summary>ONNX Runtime's median throughput over libtorch's.</summary>
    public double Ratio => OnnxRuntime.Median / Libtorch.Median;
}

/// <summary>Everything <see cref="BackendComparison.Run"/> measured, and on what.</summary>
public sealed record BackendComparisonReport(
    string Machine, double MatmulFp32, double MatmulBf16, int Threads, string Allocator,
    IReadOnlyList<BackendPoint> Points, Measurement LibtorchLoad, Measurement OnnxRuntimeLoad,
    Measurement? LibtorchColdStart, Measurement? OnnxRuntimeColdStart, IReadOnlyList<(string Op, double Ms)> OnnxRuntimeOperators, double LibtorchOperatorsMs,
    bool OnnxRuntimeWorkerMapsLibtorch, Measurement? ExportedColdStart = null)
{
    /// <summary>The report as Markdown tables.</summary>
    public string ToMarkdown()
    {
        var md = new StringBuilder();
        var c = CultureInfo.InvariantCulture;
        md.AppendLine(c, $"{Machine}; matmul 2048² fp32 {MatmulFp32:F0} GFLOP/s, bf16 {MatmulBf16:F0} GFLOP/s (libtorch); {Threads} threads on both sides; allocator {Allocator}; " +
                         $"the ONNX Runtime worker {(OnnxRuntimeWorkerMapsLibtorch ? "also maps libtorch" : "does not load libtorch")}.");
        md.AppendLine();
        md.AppendLine("| fp32 forward pass | libtorch images/s | ONNX Runtime images/s | ONNX Runtime / libtorch | peak RSS libtorch | peak RSS ONNX Runtime |");
        md.AppendLine("|---|---:|---:|---:|---:|---:|");
        foreach (var p in Points)
            md.AppendLine(c, $"| {p.Height}×{p.Width} b{p.Batch} | {p.Libtorch.Median:F2} ({p.Libtorch.Min:F2}–{p.Libtorch.Max:F2}) | {p.OnnxRuntime.Median:F2} ({p.OnnxRuntime.Min:F2}–{p.OnnxRuntime.Max:F2}) | **{p.Ratio:F2}** | {p.LibtorchPeakMB:F0} MB | {p.OnnxRuntimePeakMB:F0} MB |");
        if (LibtorchColdStart is not null && OnnxRuntimeColdStart is not null)
            md.AppendLine(c, $"| seg serve: process start to first answer | {LibtorchColdStart.Median:F2} s ({LibtorchColdStart.Min:F2}–{LibtorchColdStart.Max:F2}) | {OnnxRuntimeColdStart.Median:F2} s ({OnnxRuntimeColdStart.Min:F2}–{OnnxRuntimeColdStart.Max:F2}) | {LibtorchColdStart.Median / OnnxRuntimeColdStart.Median:F2}× faster | | |");
        if (LibtorchColdStart is not null && ExportedColdStart is not null)
            md.AppendLine(c, $"| the same from the checkpoint (seg serve's default: exported at load) | | {ExportedColdStart.Median:F2} s ({ExportedColdStart.Min:F2}–{ExportedColdStart.Max:F2}) | {LibtorchColdStart.Median / ExportedColdStart.Median:F2}× faster | | |");
        if (OnnxRuntimeOperators.Count > 0)
        {
            double total = OnnxRuntimeOperators.Sum(o => o.Ms);
            md.AppendLine();
            md.AppendLine(c, $"ONNX Runtime's profiler, one pass at {Points[^1].Height}×{Points[^1].Width} b{Points[^1].Batch}: {total:F0} ms in kernels (libtorch's whole pass: {LibtorchOperatorsMs:F0} ms).");
            md.AppendLine();
            md.AppendLine("| operator | ms | share |");
            md.AppendLine("|---|---:|---:|");
            foreach (var (op, ms) in OnnxRuntimeOperators.Take(8))
                md.AppendLine(c, $"| {op} | {ms:F1} | {100 * ms / total:F1} % |");
        }
        return md.ToString();
    }
}

/// <summary>
/// ONNX Runtime against libtorch for fp32 inference of the same FCN, each in a worker process of its own
/// (<see cref="BackendWorker"/>, on the allocator seg runs on) with the same thread count, their passes alternated; each
/// worker's peak memory; seg serve's cold start on each; ONNX Runtime's profiler by operator at the last point.
/// </summary>
public static class BackendComparison
{
    /// <summary>Runs the comparison; <paramref name="log"/> hears each figure as it lands.</summary>
    public static BackendComparisonReport Run(BackendComparisonOptions options, Action<string>? log = null)
    {
        if (options.Points.Count == 0 || options.Repeats < 1 || options.Warmup < 0 || options.ColdStarts < 0)
            throw new ArgumentException("the backend comparison needs a point, repeats ≥ 1, warm-up ≥ 0 and cold starts ≥ 0");
        int threads = options.Threads > 0 ? options.Threads : Environment.ProcessorCount;
        var (fp32, bf16) = Bench.MatmulRates(new BenchOptions([], [], Device: options.Device));
        log?.Invoke($"matmul 2048² (libtorch, this process): fp32 {fp32:F0} GFLOP/s, bf16 {bf16:F0} GFLOP/s; {threads} threads for both backends");
        string scratch = Directory.CreateTempSubdirectory("seg-backends-").FullName;
        try
        {
            string checkpoint = Checkpoint(options, scratch);
            string onnx = Path.Combine(scratch, "model.onnx");
            var (model, _) = FcnCheckpoint.Load(checkpoint);
            using (model)
                Onnx.OnnxExport.Write(model, onnx);

            using var torch = new Worker("libtorch", checkpoint, threads);
            using var ort = new Worker("onnxruntime", onnx, threads);
            var points = new List<BackendPoint>();
            double lastTorchPass = 0;
            foreach (var (h, w, b) in options.Points)
            {
                for (int i = 0; i < options.Warmup; i++)
                {
                    torch.Pass(h, w, b);
                    ort.Pass(h, w, b);
                }
                var torchRates = new List<double>();
                var ortRates = new List<double>();
                for (int r = 0; r < options.Repeats; r++)
                {
                    if (r % 2 == 0)
                    {
                        torchRates.Add(b / torch.Pass(h, w, b));
                        ortRates.Add(b / ort.Pass(h, w, b));
                    }
                    else
                    {
                        ortRates.Add(b / ort.Pass(h, w, b));
                        torchRates.Add(b / torch.Pass(h, w, b));
                    }
                }
                var point = new BackendPoint(h, w, b, Measurement.Of($"libtorch {h}x{w} b{b}", "images/s", torchRates), Measurement.Of($"onnxruntime {h}x{w} b{b}", "images/s", ortRates),
                    torch.PeakMegabytes(), ort.PeakMegabytes());
                lastTorchPass = 1000 * b / point.Libtorch.Median;
                points.Add(point);
                log?.Invoke($"{h}x{w} b{b}: libtorch {point.Libtorch.Median:F2} images/s, ONNX Runtime {point.OnnxRuntime.Median:F2} ({point.Ratio:F2}×); peak {point.LibtorchPeakMB:F0} / {point.OnnxRuntimePeakMB:F0} MB");
            }
            var last = options.Points[^1];
            var operators = ort.Profile(last.Height, last.Width, last.Batch);
            bool ortMapsLibtorch = ort.Maps("libtorch_cpu");

            Measurement? torchCold = null, ortCold = null, exportedCold = null;
            if (options.ColdStarts > 0)
            {
                var starts = new[] { (Model: checkpoint, Backend: "libtorch"), (Model: onnx, Backend: "onnxruntime"), (Model: checkpoint, Backend: "onnxruntime") };
                var seconds = starts.Select(_ => new List<double>()).ToArray();
                byte[] image = ImageFile.EncodePng(SyntheticRoads.Render(1, RoadCategory.Um, 1242, 375).Image);
                for (int i = 0; i < options.ColdStarts; i++)
                    for (int k = 0; k < starts.Length; k++)
                    {
                        int which = (k + i) % starts.Length; // each goes first in turn
                        seconds[which].Add(ColdStart(starts[which].Model, starts[which].Backend, image));
                    }
                torchCold = Measurement.Of("seg serve cold start libtorch", "s", seconds[0]);
                ortCold = Measurement.Of("seg serve cold start onnxruntime", "s", seconds[1]);
                exportedCold = Measurement.Of("seg serve cold start onnxruntime exported at load", "s", seconds[2]);
                log?.Invoke($"seg serve, process start to first answer: libtorch {torchCold.Median:F2} s, ONNX Runtime {ortCold.Median:F2} s, " +
                            $"ONNX Runtime from the checkpoint (exported at load) {exportedCold.Median:F2} s");
            }
            return new BackendComparisonReport(Bench.MachineName(), fp32, bf16, threads, FastAllocator.Describe(), points,
                Measurement.Of("libtorch load", "s", [torch.LoadSeconds]), Measurement.Of("onnxruntime load", "s", [ort.LoadSeconds]),
                torchCold, ortCold, operators, lastTorchPass, ortMapsLibtorch, exportedCold);
        }
        finally
        {
            Directory.Delete(scratch, recursive: true);
        }
    }

    static string Checkpoint(BackendComparisonOptions options, string scratch)
    {
        if (options.Model is { } given)
        {
            string file = Directory.Exists(given) ? new Training.RunFolder(given).BestCheckpoint : given;
            if (!File.Exists(file))
                throw new BadInputException(Path.GetFullPath(file), "not found", "pass a run folder or a .safetensors checkpoint written by seg train");
            return file;
        }
        TorchNative.EnsureLoadable();
        string path = Path.Combine(scratch, "model.safetensors");
        using var fresh = new Fcn(new FcnOptions("fcn8s", WidthDivisor: options.WidthDivisor));
        FcnCheckpoint.Save(fresh, path);
        return path;
    }

    /// <summary>Seconds from starting seg serve to its first 200 on /invocations, after which its log must name what ran the model.</summary>
    static double ColdStart(string model, string backend, byte[] image)
    {
        var clock = Stopwatch.StartNew();
        using var server = ServerProcess.StartAsync(model, ["--device", "cpu", "--backend", backend]).GetAwaiter().GetResult();
        server.InvokeAsync(image).GetAwaiter().GetResult();
        double seconds = clock.Elapsed.TotalSeconds;
        server.Stop();
        string runs = backend == "libtorch" ? ", libtorch, " : model.EndsWith(".onnx", StringComparison.Ordinal) ? "ONNX Runtime CPUExecutionProvider, input" : "ONNX Runtime CPUExecutionProvider, exported at load";
        if (!server.Log.Contains(runs, StringComparison.Ordinal))
            throw new InvalidOperationException($"seg serve --backend {backend} --model {model} did not say it runs \"{runs}\": {server.Log}");
        return seconds;
    }

    /// <summary>A <see cref="BackendWorker"/> process: <c>seg bench --backend-worker</c>.</summary>
    sealed class Worker : IDisposable
    {
        readonly Process _process;
        readonly StringBuilder _errors = new();
        readonly string _name;

        public Worker(string backend, string model, int threads)
        {
            _name = backend;
            string seg = Path.Combine(Path.GetDirectoryName(typeof(Worker).Assembly.Location)!, "seg.dll");
            var start = new ProcessStartInfo("dotnet") { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (string a in new[] { seg, "bench", "--backend-worker", backend, "--model", model, "--threads", threads.ToString(CultureInfo.InvariantCulture) })
                start.ArgumentList.Add(a);
            foreach (var (name, value) in FastAllocator.ChildEnvironment())
                start.Environment[name] = value;
            _process = Process.Start(start) ?? throw new InvalidOperationException("dotnet did not start");
            _process.ErrorDataReceived += (_, e) =>
            {
                lock (_errors)
                    _errors.AppendLine(e.Data);
            };
            _process.BeginErrorReadLine();
            var clock = Stopwatch.StartNew();
            Expect("ready");
            LoadSeconds = clock.Elapsed.TotalSeconds;
        }

        /// <summary>Process start to the model loaded, seconds.</summary>
        public double LoadSeconds { get; }

        public double Pass(int h, int w, int b)
        {
            _process.StandardInput.WriteLine($"run {h} {w} {b}");
            return double.Parse(Expect("done"), CultureInfo.InvariantCulture);
        }

        public double PeakMegabytes()
        {
            _process.StandardInput.WriteLine("peak");
            return double.Parse(Expect("peak"), CultureInfo.InvariantCulture);
        }

        public bool Maps(string library)
        {
            _process.StandardInput.WriteLine($"mapped {library}");
            return Expect("mapped") == "yes";
        }

        public IReadOnlyList<(string Op, double Ms)> Profile(int h, int w, int b)
        {
            _process.StandardInput.WriteLine($"profile {h} {w} {b}");
            var ops = new List<(string, double)>();
            while (true)
            {
                string line = ReadLine();
                if (line == "end")
                    return ops;
                var words = line.Split(' ');
                if (words is not ["op", var op, var ms])
                    throw Failed($"answered '{line}' to profile");
                ops.Add((op, double.Parse(ms, CultureInfo.InvariantCulture)));
            }
        }

        string Expect(string word)
        {
            string line = ReadLine();
            if (!line.StartsWith(word + " ", StringComparison.Ordinal))
                throw Failed($"answered '{line}' where '{word} …' was expected");
            return line[(word.Length + 1)..];
        }

        string ReadLine() => _process.StandardOutput.ReadLine() ?? throw Failed("exited");

        InvalidOperationException Failed(string what)
        {
            _process.WaitForExit(5000);
            lock (_errors)
                return new InvalidOperationException($"the {_name} benchmark worker {what}: {_errors.ToString().Trim()}");
        }

        public void Dispose()
        {
            try
            {
                _process.StandardInput.Close();
                if (!_process.WaitForExit(30_000))
                    _process.Kill(entireProcessTree: true);
            }
            catch (InvalidOperationException)
            {
            }
            _process.Dispose();
        }
    }
}
