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
            Assert.Contains(wholeEvents.Messages, m => m.Contains("training in bf16 (encoder; decoder, loss and master weights fp32"));
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
