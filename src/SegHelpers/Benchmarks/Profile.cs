using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using SegHelpers.Model;
using SegHelpers.Native;
using SegHelpers.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace SegHelpers.Benchmarks;

/// <summary>What <see cref="Profile.Run"/> splits: one size and batch of the FCN-8s training step.</summary>
/// <param name="Height">Image height.</param>
/// <param name="Width">Image width.</param>
/// <param name="Batch">Images per step.</param>
/// <param name="WidthDivisor">1 = VGG16's widths.</param>
/// <param name="Warmup">Untimed runs of each part first.</param>
/// <param name="Repeats">Timed runs; figures are their mean, so the parts add up.</param>
/// <param name="Bf16">Also profile mixed-precision (bf16) training where the hardware has bf16.</param>
/// <param name="Device">auto, cpu or cuda.</param>
public sealed record ProfileOptions(int Height = 160, int Width = 576, int Batch = 4, int WidthDivisor = 1, int Warmup = 1, int Repeats = 3, bool Bf16 = true, string Device = "cpu");

/// <summary>One part of a training step: its wall time, the CPU time it took in user and kernel mode, and its arithmetic.</summary>
/// <param name="Precision">fp32, or bf16 for mixed-precision training.</param>
/// <param name="Section"><c>phase</c> (forward, backward, optimizer, …) or <c>layer</c> (a kind of layer, forward or backward).</param>
/// <param name="Part">What was timed, e.g. <c>backward</c> or <c>conv 3×3 backward</c>.</param>
/// <param name="Seconds">Wall time per step.</param>
/// <param name="UserSeconds">User CPU time per step, all threads.</param>
/// <param name="SystemSeconds">Kernel CPU time per step, all threads.</param>
/// <param name="Gflop">Convolution arithmetic per step (0 where not counted).</param>
public sealed record ProfileRow(string Precision, string Section, string Part, double Seconds, double UserSeconds, double SystemSeconds, double Gflop)
{
    /// <summary>Achieved convolution rate, or 0 where no arithmetic is counted.</summary>
    public double GflopPerSecond => Gflop > 0 && Seconds > 0 ? Gflop / Seconds : 0;

    /// <summary>Share of the CPU time spent in the kernel.</summary>
    public double SystemShare => UserSeconds + SystemSeconds > 0 ? SystemSeconds / (UserSeconds + SystemSeconds) : 0;
}

/// <summary>A profile of the training step, with the matmul rates it is compared against.</summary>
/// <param name="Machine">CPU and cores.</param>
/// <param name="Runtime">TorchSharp, libtorch, allocator.</param>
/// <param name="Options">What was profiled.</param>
/// <param name="MatmulRates">GFLOP/s of a 2048² matmul per precision, measured in the same run.</param>
/// <param name="Rows">Every part, phases first.</param>
public sealed record ProfileReport(string Machine, string Runtime, ProfileOptions Options, IReadOnlyDictionary<string, double> MatmulRates, IReadOnlyList<ProfileRow> Rows)
{
    /// <summary>Writes the report as JSON, atomically.</summary>
    public void WriteJson(string path) =>
        AtomicFile.WriteText(path, JsonSerializer.Serialize(this, new JsonSerializerOptions { WriteIndented = true }));

    /// <summary>The report as Markdown tables: phases, then layer kinds, per precision.</summary>
    public string ToMarkdown()
    {
        var md = new StringBuilder();
        var inv = CultureInfo.InvariantCulture;
        md.AppendLine(inv, $"Full-width ÷{Options.WidthDivisor} FCN-8s, {Options.Height}×{Options.Width}, batch {Options.Batch}; mean of {Options.Repeats} timed runs after {Options.Warmup}. {Machine}; {Runtime}.");
        md.AppendLine(inv, $"Matmul 2048²: {string.Join(", ", MatmulRates.Select(r => $"{r.Key} {r.Value:F0} GFLOP/s"))}.");
        foreach (string section in new[] { "phase", "layer" })
        {
            md.AppendLine();
            md.AppendLine(section == "phase"
                ? "| precision | phase | s per step | user s | system s | system share | GFLOP | GFLOP/s | of matmul rate |"
                : "| precision | layer kind | s per step | user s | system s | system share | GFLOP | GFLOP/s | of matmul rate |");
            md.AppendLine("|---|---|---:|---:|---:|---:|---:|---:|---:|");
            foreach (var r in Rows.Where(r => r.Section == section))
            {
                string rate = r.GflopPerSecond > 0 ? r.GflopPerSecond.ToString("F0", inv) : "";
                string share = r.GflopPerSecond > 0 && MatmulRates.TryGetValue(r.Precision, out double peak) ? $"{100 * r.GflopPerSecond / peak:F0} %" : "";
                md.AppendLine(inv, $"| {r.Precision} | {r.Part} | {r.Seconds:F3} | {r.UserSeconds:F3} | {r.SystemSeconds:F3} | {100 * r.SystemShare:F0} % | {(r.Gflop > 0 ? r.Gflop.ToString("F1", inv) : "")} | {rate} | {share} |");
            }
        }
        return md.ToString();
    }
}

/// <summary>
/// Where a training step's time goes: the step split into phases (forward, loss, backward, the master copies of mixed
/// precision, the optimizer) and, separately, every encoder layer and the decoder timed on their own and summed by kind,
/// forward and backward. Each part carries its user and system CPU time (system time is the kernel faulting in and zeroing
/// pages, the allocator's cost) and, for convolutions, the achieved GFLOP/s against the matmul rate of the same run.
/// </summary>
public static class Profile
{
    /// <summary>Profiles fp32 training, and bf16 mixed-precision training where the hardware has bf16.</summary>
    public static ProfileReport Run(ProfileOptions options, Action<string>? log = null)
    {
        TorchNative.EnsureLoadable();
        var device = Devices.Resolve(options.Device);
        bool bf16 = options.Bf16 && (device.type == DeviceType.CUDA || Bench.CpuHasBf16);
        Fcn.CheckFits(options.Batch, options.Height, options.Width, options.WidthDivisor);
        var rates = new Dictionary<string, double> { ["fp32"] = MatmulRate(ScalarType.Float32, device) };
        if (bf16)
            rates["bf16"] = MatmulRate(ScalarType.BFloat16, device);
        var rows = new List<ProfileRow>();
        void Add(ProfileRow row)
        {
            rows.Add(row);
            log?.Invoke($"{row.Precision} {row.Section,-5} {row.Part,-28} {row.Seconds,8:F3} s  user {row.UserSeconds,7:F3}  system {row.SystemSeconds,7:F3}" +
                        (row.GflopPerSecond > 0 ? $"  {row.GflopPerSecond,6:F0} GFLOP/s" : ""));
        }

        using var model = new Fcn(new FcnOptions("fcn8s", WidthDivisor: options.WidthDivisor));
        model.to(device).train();
        using var x = randn(options.Batch, 3, options.Height, options.Width, device: device);
        using var y = randint(0, 2, [options.Batch, options.Height, options.Width], dtype: ScalarType.Int64, device: device);
        foreach (var type in bf16 ? new[] { ScalarType.Float32, ScalarType.BFloat16 } : [ScalarType.Float32])
        {
            double stepFlops = 3 * Bench.ForwardFlops(model, options.Height, options.Width, device) * options.Batch / 1e9;
            foreach (var row in Phases(model, x, y, type, options, device, stepFlops))
                Add(row);
            foreach (var row in Layers(model, x, y, type, options, device))
                Add(row);
        }
        return new ProfileReport(Bench.MachineName(), $"{TorchNative.Describe()}, allocator: {FastAllocator.Describe()}", options, rates, rows);
    }

    /// <summary>One training step split where <see cref="Trainer"/> and <see cref="MixedPrecision.Step"/> split it.</summary>
    static IEnumerable<ProfileRow> Phases(Fcn model, Tensor x, Tensor y, ScalarType type, ProfileOptions options, Device device, double stepFlops)
    {
        string precision = LowPrecisionCheck.Name(type);
        using var mixed = type == ScalarType.Float32 ? null : new MixedPrecision(model, type, device);
        using var optimizer = new InPlace.Adam(model.parameters(), 1e-4);
        using var loss = new RoadLoss(device: device);
        var parts = new Dictionary<string, List<Sample>>();
        for (int run = 0; run < options.Warmup + options.Repeats; run++)
        {
            bool timed = run >= options.Warmup;
            Sample Time(string part, Action action)
            {
                var sample = Measure(action, device);
                if (timed)
                    (parts.TryGetValue(part, out var list) ? list : parts[part] = []).Add(sample);
                return sample;
            }
            using var scope = NewDisposeScope();
            Tensor logits = null!, value = null!;
            Time("zero gradients", () => optimizer.zero_grad());
            Time("forward", () => logits = mixed is null ? model.call(x) : mixed.Forward(x));
            Time("loss", () => value = loss.Compute(logits, y));
            Time("backward", () => value.backward());
            if (mixed is not null)
            {
                Time("gradients to fp32 masters", mixed.GradientsToMasters);
                Time("finite check", () => MixedPrecision.GradientsFinite(model.parameters()));
            }
            Time("optimizer (Adam)", () => optimizer.step());
            if (mixed is not null)
                Time("working copy from masters", mixed.RefreshWorking);
        }
        foreach (var (part, samples) in parts)
            yield return Row(precision, "phase", part, samples, part switch { "forward" => stepFlops / 3, "backward" => stepFlops * 2 / 3, _ => 0 });
        var all = parts.Values.SelectMany(s => s).ToList();
        yield return new ProfileRow(precision, "phase", "whole step", all.Sum(s => s.Seconds) / options.Repeats,
            all.Sum(s => s.User) / options.Repeats, all.Sum(s => s.System) / options.Repeats, stepFlops);
    }

    /// <summary>Every encoder layer, the decoder and the loss timed on their own (input detached), summed by kind.</summary>
    static IEnumerable<ProfileRow> Layers(Fcn model, Tensor images, Tensor masks, ScalarType type, ProfileOptions options, Device device)
    {
        string precision = LowPrecisionCheck.Name(type);
        using var mixed = type == ScalarType.Float32 ? null : new MixedPrecision(model, type, device);
        var encoder = mixed?.Working ?? model.Encoder;
        using var loss = new RoadLoss(device: device);
        var kinds = new List<(string Kind, List<Sample> Forward, List<Sample> Backward, double ForwardGflop, double BackwardGflop)>();
        void Record(string kind, List<Sample> forward, List<Sample> backward, double forwardGflop = 0, double backwardGflop = 0)
        {
            int at = kinds.FindIndex(k => k.Kind == kind);
            if (at < 0)
                kinds.Add((kind, forward, backward, forwardGflop, backwardGflop));
            else
                kinds[at] = (kind, [.. kinds[at].Forward.Zip(forward, (a, b) => a + b)], [.. kinds[at].Backward.Zip(backward, (a, b) => a + b)],
                    kinds[at].ForwardGflop + forwardGflop, kinds[at].BackwardGflop + backwardGflop);
        }

        using var scope = NewDisposeScope();
        long h = Fcn.PaddedSize(options.Height), w = Fcn.PaddedSize(options.Width);
        var input = F.pad(images, [0, w - images.shape[3], 0, h - images.shape[2]]).to(encoder.DType).detach();
        var pools = new List<Tensor>();
        bool first = true;
        foreach (var (_, layer) in encoder.Layers)
        {
            var (forward, backward, output) = TimeLayer(layer is ReLU ? t => F.relu(t) : layer.call, input, needsInputGradient: !first, encoder, options, device);
            double gflop = 0;
            if (layer is Conv2d conv)
            {
                var k = conv.weight!.shape;
                gflop = 2.0 * k[0] * k[1] * k[2] * k[3] * output.shape[0] * output.shape[2] * output.shape[3] / 1e9;
            }
            // Backward computes the weight gradient and, except for the first layer (its input is the image), the input gradient.
            Record(KindName(layer), forward, backward, gflop, gflop * (first ? 1 : 2));
            if (layer is MaxPool2d)
                pools.Add(output);
            input = output;
            first = false;
        }

        var features = new[] { pools[2], pools[3], input }.Select(t => t.to(ScalarType.Float32).detach()).ToArray();
        var (decoderForward, decoderBackward, logits) = TimeModule(
            () => model.Decoder.call(features[0], features[1], features[2]), features, model.Decoder, options, device);
        Record("decoder (scores, upsampling)", decoderForward, decoderBackward);
        var cropped = logits[.., .., ..options.Height, ..options.Width].detach();
        var (lossForward, lossBackward, _) = TimeModule(() => loss.Compute(cropped, masks), [cropped], null, options, device);
        Record("loss (cross-entropy)", lossForward, lossBackward);

        foreach (var (kind, forward, backward, forwardGflop, backwardGflop) in kinds)
        {
            yield return Row(precision, "layer", $"{kind} forward", forward, forwardGflop);
            yield return Row(precision, "layer", $"{kind} backward", backward, backwardGflop);
        }
    }

    static (List<Sample> Forward, List<Sample> Backward, Tensor Output) TimeLayer(Func<Tensor, Tensor> layer, Tensor input, bool needsInputGradient, nn.Module parameters, ProfileOptions options, Device device)
    {
        var leaf = input.detach().requires_grad_(needsInputGradient);
        return TimeModule(() => layer(leaf), [leaf], parameters, options, device);
    }

    /// <summary>Times <paramref name="forward"/> and the backward pass from its output to <paramref name="inputs"/> and the module's parameters.</summary>
    static (List<Sample> Forward, List<Sample> Backward, Tensor Output) TimeModule(Func<Tensor> forward, Tensor[] inputs, nn.Module? parameters, ProfileOptions options, Device device)
    {
        var forwards = new List<Sample>();
        var backwards = new List<Sample>();
        Tensor output = null!;
        for (int run = 0; run < options.Warmup + options.Repeats; run++)
        {
            using var scope = NewDisposeScope();
            parameters?.zero_grad();
            foreach (var i in inputs)
                i.grad?.zero_();
            Tensor y = null!;
            var f = Measure(() => y = forward(), device);
            using var gradient = y.requires_grad ? ones_like(y) : null;
            var b = Measure(() =>
            {
                if (y.requires_grad)
                    y.backward([gradient!]);
            }, device);
            if (run >= options.Warmup)
            {
                forwards.Add(f);
                backwards.Add(b);
            }
            if (run == options.Warmup + options.Repeats - 1)
                output = y.detach().MoveToOuterDisposeScope();
        }
        parameters?.zero_grad();
        return (forwards, backwards, output);
    }

    static string KindName(nn.Module layer) => layer switch
    {
        Conv2d c when c.kernel_size[0] == 7 => "conv 7×7 (fc6)",
        Conv2d c when c.kernel_size[0] == 1 => "conv 1×1 (fc7)",
        Conv2d => "conv 3×3 (13 layers)",
        ReLU => "ReLU",
        MaxPool2d => "max pool",
        SeededDropout => "dropout",
        _ => layer.GetName(),
    };

    static ProfileRow Row(string precision, string section, string part, IReadOnlyList<Sample> samples, double gflop) =>
        new(precision, section, part, samples.Average(s => s.Seconds), samples.Average(s => s.User), samples.Average(s => s.System), gflop);

    readonly record struct Sample(double Seconds, double User, double System)
    {
        public static Sample operator +(Sample a, Sample b) => new(a.Seconds + b.Seconds, a.User + b.User, a.System + b.System);
    }

    static Sample Measure(Action action, Device device)
    {
        var cpu = ProcessTimes.Now();
        var clock = Stopwatch.StartNew();
        action();
        if (device.type == DeviceType.CUDA)
            cuda.synchronize();
        var used = ProcessTimes.Now().Since(cpu);
        return new Sample(clock.Elapsed.TotalSeconds, used.User.TotalSeconds, used.System.TotalSeconds);
    }

    static double MatmulRate(ScalarType type, Device device)
    {
        const int n = 2048;
        using var a = randn(n, n, dtype: type, device: device);
        using var b = randn(n, n, dtype: type, device: device);
        var samples = new List<double>();
        for (int i = 0; i < 7; i++)
        {
            var s = Measure(() => a.matmul(b).Dispose(), device);
            if (i >= 2)
                samples.Add(2.0 * n * n * n / s.Seconds / 1e9);
        }
        return samples.Order().ElementAt(samples.Count / 2);
    }
}
