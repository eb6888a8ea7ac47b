using System.Diagnostics;
using System.Text.Json;
using SegHelpers.Data;
using SegHelpers.Model;
using SegHelpers.Native;
using SegHelpers.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace SegHelpers.Benchmarks;

/// <summary>What <see cref="Bench.Run"/> measured, and on what.</summary>
/// <param name="Machine">CPU model and core count.</param>
/// <param name="Runtime">TorchSharp, libtorch and device.</param>
/// <param name="Figures">Every measurement.</param>
/// <param name="Notes">What was skipped and why, FLOP counts, floors.</param>
public sealed record BenchReport(string Machine, string Runtime, IReadOnlyList<Measurement> Figures, IReadOnlyList<string> Notes)
{
    /// <summary>Writes the report as JSON, atomically.</summary>
    public void WriteJson(string path) =>
        AtomicFile.WriteText(path, JsonSerializer.Serialize(this, new JsonSerializerOptions { WriteIndented = true }));

    /// <summary>The figure named <paramref name="name"/>, if measured.</summary>
    public Measurement? Find(string name) => Figures.FirstOrDefault(f => f.Name == name);
}

/// <summary>
/// Throughput and memory of FCN-8s on this machine: training steps and inference (fp32, and bf16 where the hardware has
/// it) per size and batch, the matmul rate that bounds them, the data pipeline with and without its in-memory cache,
/// peak resident memory, and resident-memory drift across epochs of a small training run. Every figure is the median
/// of <see cref="BenchOptions.Repeats"/> timed runs after <see cref="BenchOptions.Warmup"/> untimed ones.
/// </summary>
public static class Bench
{
    /// <summary>True when this CPU runs bf16 matmuls natively (AVX512-BF16 or AMX-BF16).</summary>
    public static bool CpuHasBf16 => Training.TrainingPrecision.CpuHasBf16();

    /// <summary>Runs every measurement <paramref name="options"/> asks for; <paramref name="log"/> hears each figure as it lands.</summary>
    public static BenchReport Run(BenchOptions options, Action<string>? log = null)
    {
        TorchNative.EnsureLoadable();
        var device = Native.Devices.Resolve(options.Device);
        bool bf16 = options.Bf16 && (device.type == DeviceType.CUDA || CpuHasBf16);
        var figures = new List<Measurement>();
        var notes = new List<string>();
        void Add(Measurement m)
        {
            figures.Add(m);
            log?.Invoke($"{m.Name,-40} {m.Median,10:F2} {m.Unit,-9} (min {m.Min:F2}, max {m.Max:F2}, {m.Samples.Count} runs)");
        }

        var fp32Rate = MatmulRate(ScalarType.Float32, device, options);
        Add(fp32Rate);
        Measurement? bf16Rate = null;
        if (bf16)
            Add(bf16Rate = MatmulRate(ScalarType.BFloat16, device, options));
        else
            notes.Add("bf16: skipped, this CPU has neither AVX512-BF16 nor AMX-BF16 (or --no-bf16)");

        foreach (var (h, w) in options.Sizes)
        {
            using var model = new Fcn(new FcnOptions("fcn8s", WidthDivisor: options.WidthDivisor));
            model.to(device);
            double gflop = ForwardFlops(model, h, w, device) / 1e9;
            notes.Add($"FCN-8s/{options.WidthDivisor} forward at {h}x{w}: {gflop:F1} GFLOP per image (convolutions; training ≈ 3×); " +
                      $"floor at the fp32 matmul rate: {fp32Rate.Median / gflop:F2} images/s inference, {fp32Rate.Median / (3 * gflop):F2} training" +
                      (bf16Rate is null ? "" : $"; at the bf16 rate: {bf16Rate.Median / gflop:F2} images/s inference"));
            if (device.type == DeviceType.CPU)
                notes.Add($"fp32 inference runs the encoder channels-last, the figures marked NCHW do not; {ChannelsLastCheck.Run(model.Encoder)}");
            if (bf16)
                notes.Add($"bf16 inference runs the encoder in bf16 and the decoder in fp32; {LowPrecisionCheck.Run(model.Encoder, ScalarType.BFloat16, device)}");
            foreach (int b in options.BatchSizes)
            {
                if (options.Train)
                    Add(TrainSteps(model, b, h, w, device, options, ScalarType.Float32));
                if (options.Train && bf16)
                    Add(TrainSteps(model, b, h, w, device, options, ScalarType.BFloat16));
                Add(Inference(model, b, h, w, device, ScalarType.Float32, options));
                if (device.type == DeviceType.CPU)
                    Add(Inference(model, b, h, w, device, ScalarType.Float32, options, channelsLast: false));
                if (bf16)
                {
                    using var half = new Fcn(new FcnOptions("fcn8s", WidthDivisor: options.WidthDivisor));
                    half.load_state_dict(model.state_dict());
                    half.to(device).UseEncoderPrecision(ScalarType.BFloat16);
                    Add(Inference(half, b, h, w, device, ScalarType.BFloat16, options));
                }
            }
        }

        string? scratch = null;
        try
        {
            if (options.PipelineImages > 0 || options.DriftEpochs > 0)
                scratch = Directory.CreateTempSubdirectory("seg-bench-").FullName;
            if (options.PipelineImages > 0)
            {
                string data = Path.Combine(scratch!, "kitti");
                SyntheticRoads.Write(data, new SyntheticOptions(options.PipelineImages, 1, 0, 375, 1242));
                var samples = KittiRoad.Open(data).Training;
                var (h, w) = options.Sizes[0];
                Add(Pipeline(samples, h, w, cache: false, options));
                Add(Pipeline(samples, h, w, cache: true, options));
            }
            if (options.DriftEpochs > 0)
                foreach (var m in Drift(Path.Combine(scratch!, "drift"), options.DriftEpochs))
                    Add(m);
        }
        finally
        {
            if (scratch is not null)
                Directory.Delete(scratch, recursive: true);
        }
        using (var self = Process.GetCurrentProcess())
            Add(Measurement.Of("peak resident memory", "MB", [self.PeakWorkingSet64 / 1e6]));
        return new BenchReport(MachineName(), TorchNative.Describe(), figures, notes);
    }

    /// <summary>
    /// A trained run's validation split scored in fp32 and in bf16 (full-resolution road IoU at p ≥ 0.5) with the
    /// predictor's throughput both ways: the accuracy side of the bf16 fast path.
    /// </summary>
    public static IReadOnlyList<Measurement> PrecisionComparison(string runFolder, string data, BenchOptions options, Action<string>? log = null)
    {
        TorchNative.EnsureLoadable();
        var validation = new RunFolder(runFolder).ReadInfo().Split(KittiRoad.Open(data)).Validation;
        var figures = new List<Measurement>();
        foreach (string precision in new[] { "fp32", "bf16" })
        {
            using var predictor = Evaluation.RoadPredictor.Load(runFolder, Evaluation.RoadPredictor.DefaultOptions(runFolder) with { Precision = precision, Device = options.Device });
            var images = validation.Select(s => ImageFile.ReadRgb(s.ImagePath)).ToList();
            var seconds = Time(options.Warmup, options.Repeats, () => predictor.PredictMany(images).ToList());
            var report = Evaluation.RoadEvaluation.Run(predictor, validation);
            foreach (var m in new[]
                     {
                         Measurement.Of($"predict {validation.Count} val images {precision}", "images/s", [.. seconds.Select(t => images.Count / t)]),
                         Measurement.Of($"val road IoU {precision}", "IoU", [report.Matrix.IoU(RoadLabel.Road)]),
                     })
            {
                figures.Add(m);
                log?.Invoke($"{m.Name,-40} {m.Median,10:F4} {m.Unit}");
            }
        }
        return figures;
    }

    /// <summary>
    /// The fp32 and bf16 rates of a 2048² matmul on <see cref="BenchOptions.Device"/>, GFLOP/s medians: the machine's figures to
    /// print beside any ratio a benchmark reports (bf16 is measured whether or not the CPU has native bf16).
    /// </summary>
    public static (double Fp32, double Bf16) MatmulRates(BenchOptions options)
    {
        TorchNative.EnsureLoadable();
        var device = Native.Devices.Resolve(options.Device);
        return (MatmulRate(ScalarType.Float32, device, options).Median, MatmulRate(ScalarType.BFloat16, device, options).Median);
    }

    /// <summary>Multiply-add rate of a 2048² matmul.</summary>
    static Measurement MatmulRate(ScalarType type, Device device, BenchOptions options)
    {
        const int n = 2048;
        using var a = randn(n, n, dtype: type, device: device);
        using var b = randn(n, n, dtype: type, device: device);
        var samples = Time(options.Warmup + 2, options.Repeats + 2, () =>
        {
            using var c = a.matmul(b);
            Sync(device);
        });
        return Measurement.Of($"matmul 2048² {Name(type)}", "GFLOP/s", [.. samples.Select(s => 2.0 * n * n * n / s / 1e9)]);
    }

    static Measurement TrainSteps(Fcn model, int batch, int h, int w, Device device, BenchOptions options, ScalarType type)
    {
        model.train();
        using var mixed = type == ScalarType.Float32 ? null : new Training.MixedPrecision(model, type, device);
        using var optimizer = new Training.InPlace.Adam(model.parameters(), 1e-4);
        using var loss = new RoadLoss(device: device);
        using var x = randn(batch, 3, h, w, device: device);
        using var y = randint(0, 2, [batch, h, w], dtype: ScalarType.Int64, device: device);
        var samples = Time(options.Warmup, options.Repeats, () =>
        {
            using var scope = NewDisposeScope();
            optimizer.zero_grad();
            if (mixed is null)
            {
                loss.Compute(model.call(x), y).backward();
                optimizer.step();
            }
            else
            {
                loss.Compute(mixed.Forward(x), y).backward();
                mixed.Step(optimizer);
            }
            Sync(device);
        });
        return Measurement.Of($"train fcn8s {h}x{w} b{batch}{(mixed is null ? "" : $" {Name(type)}")}", "images/s", [.. samples.Select(s => batch / s)]);
    }

    static Measurement Inference(Fcn model, int batch, int h, int w, Device device, ScalarType type, BenchOptions options, bool channelsLast = true)
    {
        model.eval();
        model.ChannelsLastInference = channelsLast;
        using var x = randn(batch, 3, h, w, device: device);
        var samples = Time(options.Warmup, options.Repeats, () =>
        {
            using var scope = NewDisposeScope();
            using var _ = no_grad();
            model.call(x);
            Sync(device);
        });
        model.ChannelsLastInference = true;
        return Measurement.Of($"infer fcn8s {h}x{w} b{batch} {Name(type)}{(channelsLast ? "" : " NCHW")}", "images/s", [.. samples.Select(s => batch / s)]) with
        {
            Layout = model.LastPassChannelsLast ? "channels-last" : "NCHW",
        };
    }

    /// <summary>Decode + resize + augment + batch, images per second: every epoch decodes without the cache; with it only the first does.</summary>
    static Measurement Pipeline(IReadOnlyList<KittiSample> samples, int h, int w, bool cache, BenchOptions options)
    {
        var preset = new PresetOptions(h, w);
        var (ch, cw) = preset.CacheSize;
        using var batches = new Batches(samples, Presets.Train(preset), new BatchOptions(4, ch, cw, CacheInMemory: cache));
        var rates = new List<double>();
        for (int epoch = 0; epoch < Math.Max(options.Warmup, cache ? 1 : 0) + options.Repeats; epoch++)
        {
            var clock = Stopwatch.StartNew();
            int images = 0;
            foreach (var batch in batches.Epoch(epoch))
                using (batch)
                    images += (int)batch.Images.shape[0];
            if (epoch >= Math.Max(options.Warmup, cache ? 1 : 0)) // with the cache, epoch 0 is the one that decodes
                rates.Add(images / clock.Elapsed.TotalSeconds);
        }
        return Measurement.Of($"pipeline 1242x375 → {h}x{w} {(cache ? "cached" : "no cache")}", "images/s", rates);
    }

    /// <summary>
    /// Resident memory after each epoch of a small training run, and its trend once warmed up: the least-squares slope
    /// over the epochs after the third (Adam's state, oneDNN's kernel caches and the allocator's pools grow until then),
    /// in percent of their mean per epoch. A leak shows as a steady positive slope; allocator noise does not.
    /// </summary>
    static IEnumerable<Measurement> Drift(string folder, int epochs)
    {
        string data = Path.Combine(folder, "data");
        SyntheticRoads.Write(data, new SyntheticOptions(24, 2, 0, 96, 320));
        var result = Trainer.Train(data, Path.Combine(folder, "run"),
            new TrainingOptions(Epochs: epochs, Height: 96, Width: 320, WidthDivisor: 4, WarmupEpochs: 0, Device: "cpu"));
        var rss = result.History.Select(m => m.ResidentMegabytes).ToList();
        yield return Measurement.Of($"resident memory per epoch ({epochs} epochs)", "MB", rss);
        var settled = rss.Skip(3).ToList();
        if (settled.Count >= 3)
        {
            yield return Measurement.Of($"resident-memory trend, epochs 4–{rss.Count}", "%/epoch", [100 * Slope(settled) / settled.Average()]);
            yield return Measurement.Of($"resident-memory range, epochs 4–{rss.Count}", "%", [100 * (settled.Max() - settled.Min()) / settled.Average()]);
        }
    }

    static double Slope(IReadOnlyList<double> values)
    {
        double meanX = (values.Count - 1) / 2.0, meanY = values.Average();
        double num = 0, den = 0;
        for (int i = 0; i < values.Count; i++)
        {
            num += (i - meanX) * (values[i] - meanY);
            den += (i - meanX) * (i - meanX);
        }
        return num / den;
    }

    /// <summary>Multiply-adds ×2 of every convolution in one forward pass at <paramref name="h"/>×<paramref name="w"/> (decoder score layers and upsampling, under 0.1 %, left out).</summary>
    public static double ForwardFlops(Fcn model, int h, int w, Device device)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var x = zeros(1, 3, Fcn.PaddedSize(h), Fcn.PaddedSize(w), device: device);
        double flops = 0;
        foreach (var layer in model.Encoder.Features.children())
        {
            x = ((nn.Module<Tensor, Tensor>)layer).call(x);
            if (layer is Conv2d conv)
                flops += 2.0 * conv.weight!.shape[1] * conv.weight.shape[0] * conv.weight.shape[2] * conv.weight.shape[3] * x.shape[2] * x.shape[3];
        }
        foreach (var (name, p) in model.Encoder.named_parameters())
            if (name is "fc6.weight" or "fc7.weight")
                flops += 2.0 * p.shape[0] * p.shape[1] * p.shape[2] * p.shape[3] * x.shape[2] * x.shape[3];
        return flops;
    }

    static List<double> Time(int warmup, int repeats, Action run)
    {
        for (int i = 0; i < warmup; i++)
            run();
        var samples = new List<double>(repeats);
        for (int i = 0; i < repeats; i++)
        {
            var clock = Stopwatch.StartNew();
            run();
            samples.Add(clock.Elapsed.TotalSeconds);
        }
        return samples;
    }

    static void Sync(Device device)
    {
        if (device.type == DeviceType.CUDA)
            cuda.synchronize();
    }

    static string Name(ScalarType type) => type == ScalarType.BFloat16 ? "bf16" : "fp32";

    /// <summary>CPU model, logical cores and whether the CPU has native bf16.</summary>
    internal static string MachineName()
    {
        string cpu = File.Exists("/proc/cpuinfo")
            ? File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? "?"
            : "?";
        return $"{cpu}, {Environment.ProcessorCount} logical cores, {(CpuHasBf16 ? "AVX512-BF16" : "no bf16")}";
    }
}
