using System.Diagnostics;
using System.Globalization;
using Microsoft.ML.OnnxRuntime;
using SegHelpers.Model;
using SegHelpers.Model.Weights;
using SegHelpers.Native;
using TorchSharp;
using static TorchSharp.torch;

namespace SegHelpers.Benchmarks;

/// <summary>
/// One backend in a process of its own, for <see cref="BackendComparison"/>: loads the model, then answers each line
/// <c>run H W B</c> on its input with <c>done SECONDS</c> (one fp32 forward pass of a batch B×3×H×W, logits out),
/// <c>profile H W B</c> (ONNX Runtime only) with <c>op NAME MS</c> lines from its profiler and <c>end</c>,
/// <c>mapped NAME</c> with whether a library of that name is mapped, and <c>peak</c> with its peak resident memory in MB. The ONNX Runtime worker never loads libtorch, so its memory is its own.
/// </summary>
public static class BackendWorker
{
    /// <summary>Runs the protocol until its input ends; the exit code.</summary>
    public static int Run(string backend, string model, int threads, TextReader input, TextWriter output)
    {
        var clock = Stopwatch.StartNew();
        using IPass pass = backend switch
        {
            "libtorch" => new TorchPass(model, threads),
            "onnxruntime" => new OrtPass(model, threads),
            _ => throw new ArgumentException($"backend must be libtorch or onnxruntime, not '{backend}'"),
        };
        output.WriteLine($"ready {clock.Elapsed.TotalSeconds.ToString("R", CultureInfo.InvariantCulture)}");
        output.Flush();
        while (input.ReadLine() is { } line)
        {
            var words = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            switch (words)
            {
                case ["run", var h, var w, var b]:
                    output.WriteLine($"done {pass.Seconds(int.Parse(h, CultureInfo.InvariantCulture), int.Parse(w, CultureInfo.InvariantCulture), int.Parse(b, CultureInfo.InvariantCulture)).ToString("R", CultureInfo.InvariantCulture)}");
                    break;
                case ["profile", var h, var w, var b] when pass is OrtPass ort:
                    foreach (var (op, ms) in ort.Profile(model, threads, int.Parse(h, CultureInfo.InvariantCulture), int.Parse(w, CultureInfo.InvariantCulture), int.Parse(b, CultureInfo.InvariantCulture)))
                        output.WriteLine($"op {op} {ms.ToString("R", CultureInfo.InvariantCulture)}");
                    output.WriteLine("end");
                    break;
                case ["mapped", var library]:
                    output.WriteLine($"mapped {(File.ReadLines("/proc/self/maps").Any(l => l.Contains(library, StringComparison.Ordinal)) ? "yes" : "no")}");
                    break;
                case ["peak"]:
                    output.WriteLine($"peak {PeakMegabytes().ToString("R", CultureInfo.InvariantCulture)}");
                    break;
                default:
                    output.WriteLine($"error: '{line}' is not run H W B, profile H W B, mapped NAME or peak");
                    break;
            }
            output.Flush();
        }
        return 0;
    }

    /// <summary>VmHWM of this process.</summary>
    static double PeakMegabytes()
    {
        string? line = File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith("VmHWM:", StringComparison.Ordinal));
        return line is null ? double.NaN : long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024.0;
    }

    interface IPass : IDisposable
    {
        double Seconds(int height, int width, int batch);
    }

    sealed class TorchPass : IPass
    {
        readonly Fcn _model;
        readonly Dictionary<(int, int, int), Tensor> _inputs = [];

        public TorchPass(string checkpoint, int threads)
        {
            TorchNative.EnsureLoadable();
            set_num_threads(threads);
            _model = FcnCheckpoint.Load(checkpoint).Model;
            _model.to(ScalarType.Float32).eval();
        }

        public double Seconds(int height, int width, int batch)
        {
            if (!_inputs.TryGetValue((height, width, batch), out var x))
                _inputs[(height, width, batch)] = x = randn(batch, 3, height, width);
            using var scope = NewDisposeScope();
            using var _ = no_grad();
            var clock = Stopwatch.StartNew();
            _model.call(x);
            return clock.Elapsed.TotalSeconds;
        }

        public void Dispose()
        {
            foreach (var x in _inputs.Values)
                x.Dispose();
            _model.Dispose();
        }
    }

    sealed class OrtPass : IPass
    {
        readonly InferenceSession _session;
        readonly RunOptions _run = new();
        readonly Dictionary<(int, int, int), OrtValue> _inputs = [];

        public OrtPass(string onnx, int threads) => _session = new InferenceSession(onnx, Options(threads));

        static SessionOptions Options(int threads) =>
            new() { IntraOpNumThreads = threads, InterOpNumThreads = 1, GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL };

        OrtValue Input(int height, int width, int batch)
        {
            if (!_inputs.TryGetValue((height, width, batch), out var value))
            {
                var random = new Random(0);
                var data = new float[batch * 3 * height * width];
                for (int i = 0; i < data.Length; i++)
                    data[i] = (float)(random.NextDouble() * 4 - 2);
                _inputs[(height, width, batch)] = value = OrtValue.CreateTensorValueFromMemory(data, [batch, 3, height, width]);
            }
            return value;
        }

        public double Seconds(int height, int width, int batch)
        {
            var input = Input(height, width, batch);
            var clock = Stopwatch.StartNew();
            using var outputs = _session.Run(_run, ["image"], [input], ["logits"]);
            return clock.Elapsed.TotalSeconds;
        }

        /// <summary>One profiled pass (after one unprofiled) in a session of its own: milliseconds per operator type, largest first.</summary>
        public IReadOnlyList<(string Op, double Ms)> Profile(string onnx, int threads, int height, int width, int batch)
        {
            string prefix = Path.Combine(Path.GetTempPath(), $"seg-ort-profile-{Environment.ProcessId}");
            using var options = Options(threads);
            options.EnableProfiling = true;
            options.ProfileOutputPathPrefix = prefix;
            string file;
            using (var session = new InferenceSession(onnx, options))
            {
                var input = Input(height, width, batch);
                for (int i = 0; i < 2; i++)
                    using (session.Run(_run, ["image"], [input], ["logits"]))
                    {
                    }
                file = session.EndProfiling();
            }
            try
            {
                return OrtProfile.ByOperator(File.ReadAllText(file), lastRunOnly: true);
            }
            finally
            {
                File.Delete(file);
            }
        }

        public void Dispose()
        {
            foreach (var v in _inputs.Values)
                v.Dispose();
            _session.Dispose();
            _run.Dispose();
        }
    }
}
