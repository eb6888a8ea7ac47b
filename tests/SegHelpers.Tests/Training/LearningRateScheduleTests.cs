using SegHelpers.Training;

namespace SegHelpers.Tests.Training;

public class LearningRateScheduleTests
{
    [Theory]
    [InlineData("constant", 1.0)]
    [InlineData("poly", 0.0)]
    [InlineData("cosine", 0.0)]
    public void Warm_up_rises_linearly_from_a_tenth_then_the_schedule_decays(string schedule, double endFactor)
    {
        var options = new TrainingOptions(Epochs: 10, LearningRate: 0.01, Schedule: schedule, WarmupEpochs: 2);
        var lr = new LearningRateSchedule(options, stepsPerEpoch: 5);

        Assert.Equal(0.001, lr.At(0), 12);
        Assert.Equal(0.001 + 0.009 * 5 / 10, lr.At(5), 12);
        Assert.Equal(0.01, lr.At(10), 12);
        Assert.Equal(0.01 * endFactor, lr.At(50), 12);
        for (long step = 11; step < 50; step++)
            Assert.True(lr.At(step) <= lr.At(step - 1) + 1e-15);
    }

    [Fact]
    public void The_default_warm_up_fits_a_one_epoch_run_by_taking_half_of_it()
    {
        var options = new TrainingOptions(Epochs: 1, LearningRate: 0.01);
        options.Validate();
        var lr = new LearningRateSchedule(options, stepsPerEpoch: 10);

        Assert.Equal(0.5, options.EffectiveWarmupEpochs);
        Assert.Equal(0.001, lr.At(0), 12);
        Assert.Equal(0.01, lr.At(5), 12);
        Assert.True(lr.At(9) < lr.At(5));
        Assert.Equal(1, new TrainingOptions(Epochs: 30).EffectiveWarmupEpochs);
    }

    [Fact]
    public void Cosine_is_at_half_the_rate_midway_and_poly_follows_its_power()
    {
        var cosine = new LearningRateSchedule(new TrainingOptions(Epochs: 4, LearningRate: 1, Schedule: "cosine", WarmupEpochs: 0), 10);
        var poly = new LearningRateSchedule(new TrainingOptions(Epochs: 4, LearningRate: 1, Schedule: "poly", WarmupEpochs: 0), 10);

        Assert.Equal(0.5, cosine.At(20), 12);
        Assert.Equal(Math.Pow(0.5, 0.9), poly.At(20), 12);
    }
}
