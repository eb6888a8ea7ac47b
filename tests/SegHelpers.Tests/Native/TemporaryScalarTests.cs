using SegHelpers.Data;
using SegHelpers.Evaluation;
using SegHelpers.Tests.Data;
using SegHelpers.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace SegHelpers.Tests.Native;

/// <summary>Run alone: the finalizer counts are process-wide, so no other test may make Scalars meanwhile.</summary>
[CollectionDefinition(nameof(TemporaryScalarTests), DisableParallelization = true)]
public sealed class TemporaryScalarCollection;

/// <summary>
/// Issue 23's rare libtorch abort ("Expected false to be true, but got false", raised in c10::Scalar::toFloat): TorchSharp 0.107
/// turns a .NET number into a temporary Scalar that only its finalizer frees, and the finalizer can free it while libtorch still
/// reads it. The library's own calls must leave no Scalar to the finalizer.
/// </summary>
[Collection(nameof(TemporaryScalarTests))]
public class TemporaryScalarTests(Xunit.Abstractions.ITestOutputHelper output)
{
    [Fact]
    public void The_counter_sees_TorchSharps_temporary_Scalars_and_not_disposed_ones()
    {
        SegHelpers.Native.TorchNative.EnsureLoadable();
        using var finalized = new FinalizedScalars();
        using var x = zeros(4);
        using var y = ones(4);
        finalized.Settle();

        for (int i = 0; i < 50; i++)
            x.add_(y); // TorchSharp passes alpha = 1 as a temporary Scalar
        int temporaries = finalized.Settle();
        for (int i = 0; i < 50; i++)
        {
            using var one = 1.ToScalar();
            x.add_(y, one);
        }
        int disposed = finalized.Settle();

        Assert.InRange(temporaries, 50, 60);
        Assert.Equal(0, disposed);
        using var total = x.sum();
        Assert.Equal(400f, total.item<float>());
    }

    [Fact]
    public void Data_training_prediction_and_evaluation_leave_no_Scalar_to_the_finalizer()
    {
        SegHelpers.Native.TorchNative.EnsureLoadable();
        using var data = new TempDir();
        using var runs = new TempDir();
        Kitti.Synthetic(data, count: 8, height: 96, width: 320, testCount: 2);
        var samples = KittiRoad.Open(data.Path).Training;
        using var finalized = new FinalizedScalars();
        finalized.Settle();
        var counts = new Dictionary<string, int>();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        void Count(string stage)
        {
            counts[stage] = finalized.Settle();
            output.WriteLine($"{stage}: {counts[stage]} Scalars finalized, {clock.Elapsed.TotalSeconds:F1} s");
            clock.Restart();
        }

        // The process-wide checks have run long before this window in a full run; measured again inside it, they are counted too.
        using (var encoder = new SegHelpers.Model.Vgg16Encoder(4))
        {
            SegHelpers.Model.ChannelsLastCheck.ForgetCache();
            SegHelpers.Model.LowPrecisionCheck.ForgetCache();
            PrecisionSpeed.ForgetCache();
            SegHelpers.Model.ChannelsLastCheck.Run(encoder);
            SegHelpers.Model.LowPrecisionCheck.Run(encoder, ScalarType.BFloat16, CPU, backward: true);
            PrecisionSpeed.Speedup(4, ScalarType.BFloat16, CPU, 32, 96);
        }
        Count("run-time checks (channels-last, bf16, bf16 speed)");

        var preset = new PresetOptions(64, 192);
        var (ch, cw) = preset.CacheSize;
        foreach (bool cache in new[] { false, true })
        {
            using var batches = new Batches(samples, Presets.Train(preset), new BatchOptions(4, ch, cw, CacheInMemory: cache));
            foreach (var batch in batches.Epoch(0))
                batch.Dispose();
        }
        foreach (var preview in Presets.Preview(samples[0], preset, 2))
            _ = preview.Width;
        Count("data pipeline");

        var options = new TrainingOptions(Epochs: 2, BatchSize: 4, Height: 64, Width: 192, WidthDivisor: 4, WarmupEpochs: 0.5,
            ValidationFraction: 0.25, Seed: 5, Device: "cpu");
        Trainer.Train(data.Path, runs["fp32"], options);
        Count("fp32 training, Adam");
        Trainer.Train(data.Path, runs["sgd"], options with { Epochs = 1, Optimizer = "sgd" });
        Count("fp32 training, SGD");
        if (TrainingPrecision.CpuHasBf16())
        {
            Trainer.Train(data.Path, runs["bf16"], options with { Epochs = 1, Height = 96, Width = 320, Precision = "bf16" });
            Count("bf16 training");
        }

        foreach (string precision in TrainingPrecision.CpuHasBf16() ? new[] { "fp32", "bf16" } : ["fp32"])
        {
            using var predictor = RoadPredictor.Load(runs["fp32"], RoadPredictor.DefaultOptions(runs["fp32"]) with { Flip = true, Precision = precision, Device = "cpu" });
            RoadEvaluation.RunInto(predictor, samples, runs[$"eval-{precision}"]);
            Count($"{precision} prediction and evaluation");
        }

        Assert.True(counts.Values.All(n => n == 0), "Scalars left to the finalizer: " + string.Join(", ", counts.Select(c => $"{c.Key} {c.Value}")));
    }
}
