using SegHelpers.Model.Weights;
using SegHelpers.Tests.Data;
using SegHelpers.Training;

namespace SegHelpers.Tests.Training;

public class MixedPrecisionTrainingTests
{
    // 96×320, not the 32×96 of the fp32 tests: on this project's CPUs libtorch's bf16 weight gradient of fc6 is now and then
    // garbage when fc6 sees 1×3 (32×96 images), and sound at 3×10 (see MixedPrecision.GradientTolerance).
    static readonly TrainingOptions TinyBf16 = new(Epochs: 2, BatchSize: 4, Height: 96, Width: 320, LearningRate: 1e-3,
        WidthDivisor: 4, WarmupEpochs: 0.5, ValidationFraction: 0.25, Seed: 11, Device: "cpu", Precision: "bf16");

    sealed class Events(Action<TrainingEvent>? onEvent = null) : IProgress<TrainingEvent>
    {
        public List<string> Messages { get; } = [];

        public void Report(TrainingEvent value)
        {
            if (value is MessageEvent m)
                Messages.Add(m.Text);
            onEvent?.Invoke(value);
        }
    }

    [Bf16CpuFact]
    public void The_first_batch_guard_switches_a_run_whose_bf16_gradients_disagree_to_fp32_and_it_completes()
    {
        using var data = new TempDir();
        using var runs = new TempDir();
        Kitti.Synthetic(data, count: 8, height: 48, width: 160);
        var events = new Events();

        // no bf16 gradient equals fp32's exactly, so a tolerance below zero makes every parameter "disagree"
        var result = Trainer.Train(data.Path, runs["run"], TinyBf16 with { Epochs = 3 }, events, default, gradientTolerance: -1);

        Assert.Equal(TrainingStatus.Completed, result.Status);
        string warning = Assert.Single(events.Messages, m => m.Contains("training in fp32 instead"));
        using var names = new SegHelpers.Model.Fcn(new SegHelpers.Model.FcnOptions("fcn8s", WidthDivisor: 4));
        Assert.Contains($"bf16 gradients on the first batch disagree with fp32 for {names.Encoder.named_parameters().First().name} (relative error", warning);
        Assert.Equal(0, result.History[^1].SkippedSteps);
        // switched before its first step, the run is the fp32 run of the same options (bf16 would differ once the encoder learns)
        var fp32 = Trainer.Train(data.Path, runs["fp32"], TinyBf16 with { Epochs = 3, Precision = "fp32" });
        Assert.InRange(Math.Abs(fp32.History[^1].TrainLoss - result.History[^1].TrainLoss), 0, 2e-5);
        Assert.InRange(Math.Abs(fp32.History[^1].ValLoss - result.History[^1].ValLoss), 0, 2e-5);
    }

    [Fact]
    public void Gradient_errors_are_small_for_a_sound_copy_and_large_where_the_copy_is_wrong()
    {
        using var model = new SegHelpers.Model.Fcn(new SegHelpers.Model.FcnOptions("fcn8s", WidthDivisor: 4), seed: 2);
        using (TorchSharp.torch.no_grad())
            foreach (var p in model.Decoder.parameters())
                p.normal_(0, 0.1);
        using var mixed = new MixedPrecision(model, TorchSharp.torch.ScalarType.BFloat16, TorchSharp.torch.CPU);
        using var images = TorchSharp.torch.randn(2, 3, 96, 320);
        using var masks = TorchSharp.torch.zeros([2, 96, 320], TorchSharp.torch.ScalarType.Int64).index_fill_(2, TorchSharp.torch.arange(160), 1L);
        var loss = new RoadLoss(null, TorchSharp.torch.CPU);

        var sound = mixed.GradientErrors(images, masks, loss);
        Assert.Equal(model.Encoder.parameters().Count(), sound.Count);
        Assert.All(sound, e => Assert.InRange(e.Error, 1e-6, MixedPrecision.GradientTolerance));

        using (TorchSharp.torch.no_grad()) // a wrong working weight in the last layer, as a broken kernel would give
            mixed.Working.parameters().Skip(sound.Count - 2).First().mul_(-3);
        var broken = mixed.GradientErrors(images, masks, loss);
        Assert.Contains(broken, e => e.Error > MixedPrecision.GradientTolerance);
        Assert.All(model.parameters(), p => Assert.Null(p.grad?.count_nonzero().item<long>() > 0 ? p.grad : null));
    }

    [Fact]
    public void A_bf16_run_trains_in_bf16_saves_fp32_checkpoints_and_resumes_like_the_uninterrupted_run()
    {
        using var data = new TempDir();
        using var runs = new TempDir();
        Kitti.Synthetic(data, count: 12, height: 48, width: 160);
        var wholeEvents = new Events();
        var whole = Trainer.Train(data.Path, runs["whole"], TinyBf16, wholeEvents);
        using var cancel = new CancellationTokenSource();
        var stopper = new Events(e => { if (e is StepEvent { GlobalStep: 3 }) cancel.Cancel(); });

        var first = Trainer.Train(data.Path, runs["split"], TinyBf16, stopper, cancel.Token);
        var rest = Trainer.Resume(runs["split"]);

        Assert.Equal(TrainingStatus.Completed, whole.Status);
        if (TrainingPrecision.CpuHasBf16())
        {
            Assert.Contains(wholeEvents.Messages, m => m.Contains("training in bf16 (encoder; decoder, loss and master weights fp32"));
            Assert.DoesNotContain(wholeEvents.Messages, m => m.Contains("training in fp32 instead")); // the first-batch guard kept bf16
        }
        else
            Assert.Contains(wholeEvents.Messages, m => m.Contains("auto: training in fp32") || m.Contains("slower than fp32") || m.Contains("training in fp32 instead"));
        Assert.Equal("bf16", whole.Run.ReadInfo().Options.Precision);
        foreach (var file in new[] { whole.Run.BestCheckpoint, whole.Run.LastCheckpoint })
            Assert.All(StateDict.Read(file).Where(t => !t.Name.StartsWith(FcnCheckpoint.ExtraPrefix, StringComparison.Ordinal)),
                t => Assert.True(t.DType == TorchSharp.torch.ScalarType.Float32, $"{Path.GetFileName(file)}: {t.Name} is {t.DTypeName}"));
        Assert.Equal(TrainingStatus.Interrupted, first.Status);
        Assert.Equal(TrainingStatus.Completed, rest.Status);
        Assert.Equal(whole.History.Count, rest.History.Count);
        Assert.Equal(0, whole.History[^1].SkippedSteps + rest.History[^1].SkippedSteps);
        // As for fp32 (TrainerTests): two identical uninterrupted runs already differ by about 1e-5 in these figures.
        for (int i = 0; i < whole.History.Count; i++)
        {
            Assert.InRange(Math.Abs(whole.History[i].TrainLoss - rest.History[i].TrainLoss), 0, 1e-3);
            Assert.InRange(Math.Abs(whole.History[i].ValLoss - rest.History[i].ValLoss), 0, 1e-3);
        }
    }
}
