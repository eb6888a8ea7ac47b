using SegHelpers.Training;
using TorchSharp;
using static SegHelpers.Tests.Training.InPlaceAdamTests;
using static TorchSharp.torch;

namespace SegHelpers.Tests.Training;

public class InPlaceSgdTests
{
    [Theory]
    [InlineData(0.9, 0.0, 5e-4, false)]
    [InlineData(0.9, 0.1, 5e-4, false)]
    [InlineData(0.9, 0.0, 5e-4, true)]
    [InlineData(0.0, 0.0, 0.0, false)]
    [InlineData(0.9, 0.0, 0.0, true)]
    public void Steps_match_torchsharps_sgd_bit_for_bit_and_the_state_format_is_the_same(double momentum, double dampening, double weightDecay, bool nesterov)
    {
        var ours = Parameters(1);
        var theirs = Parameters(1);
        using var inPlace = new InPlace.SGD(ours, 1e-2, momentum, dampening, weightDecay, nesterov);
        using var sgd = optim.SGD(theirs, 1e-2, momentum, dampening, weightDecay, nesterov);
        var grads = new List<Tensor>();

        for (int step = 0; step < 4; step++)
        {
            Gradients(ours, step);
            Gradients(theirs, step);
            grads.AddRange(ours.Select(p => p.grad!.clone()));
            if (step == 2)
                foreach (var group in inPlace.ParamGroups.Concat(sgd.ParamGroups))
                    group.LearningRate = 3e-3;
            inPlace.step();
            sgd.step();
            Assert.All(ours.Zip(grads.TakeLast(ours.Count)), p => Assert.True(Same(p.First.grad!, p.Second), "the step changed a gradient"));
        }

        Assert.All(ours.Zip(theirs), p => Assert.True(Same(p.First, p.Second)));
        Assert.Contains(ours.Zip(Parameters(1)), p => !Same(p.First, p.Second));
        byte[] ourState = Save(inPlace), theirState = Save(sgd);
        Assert.Equal(theirState, ourState);
        using var loadsTheirs = new InPlace.SGD(Parameters(1), 1e-2, momentum, dampening, weightDecay, nesterov);
        using (var reader = new BinaryReader(new MemoryStream(theirState)))
            loadsTheirs.load_state_dict(reader);
        Assert.Equal(ourState, Save(loadsTheirs));
        grads.ForEach(g => g.Dispose());
    }
}
