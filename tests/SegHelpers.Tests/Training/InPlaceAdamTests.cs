using SegHelpers.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace SegHelpers.Tests.Training;

public class InPlaceAdamTests
{
    internal static List<Parameter> Parameters(long seed)
    {
        using var generator = new Generator((ulong)seed, CPU);
        return [new Parameter(randn([16, 8, 3, 3], generator: generator)), new Parameter(randn([16], generator: generator)), new Parameter(randn([2, 16, 1, 1], generator: generator))];
    }

    internal static void Gradients(IReadOnlyList<Parameter> parameters, int step)
    {
        using var generator = new Generator((ulong)(100 + step), CPU);
        using var _ = no_grad();
        foreach (var p in parameters)
            p.grad = randn(p.shape, generator: generator);
    }

    internal static byte[] Save(optim.Optimizer optimizer)
    {
        using var buffer = new MemoryStream();
        using (var writer = new BinaryWriter(buffer, System.Text.Encoding.UTF8, leaveOpen: true))
            ((OptimizerHelper)optimizer).save_state_dict(writer);
        return buffer.ToArray();
    }

    internal static bool Same(Tensor a, Tensor b) => a.eq(b).all().item<bool>();

    [Fact]
    public void Steps_match_torchsharps_adam_bit_for_bit_and_the_state_format_is_the_same()
    {
        var ours = Parameters(1);
        var theirs = Parameters(1);
        using var inPlace = new InPlace.Adam(ours, 1e-2, weightDecay: 5e-4);
        using var adam = optim.Adam(theirs, 1e-2, weight_decay: 5e-4);

        for (int step = 0; step < 4; step++)
        {
            Gradients(ours, step);
            Gradients(theirs, step);
            if (step == 2)
                foreach (var group in inPlace.ParamGroups.Concat(adam.ParamGroups))
                    group.LearningRate = 3e-3;
            inPlace.step();
            adam.step();
        }

        Assert.All(ours.Zip(theirs), p => Assert.True(Same(p.First, p.Second)));
        Assert.Contains(ours.Zip(Parameters(1)), p => !Same(p.First, p.Second));
        byte[] ourState = Save(inPlace), theirState = Save(adam);
        using var loadsTheirs = new InPlace.Adam(Parameters(1), 1e-2, weightDecay: 5e-4);
        using (var reader = new BinaryReader(new MemoryStream(theirState)))
            loadsTheirs.load_state_dict(reader);
        Assert.Equal(ourState, Save(loadsTheirs));
        using var fresh = optim.Adam(Parameters(1), 1e-2, weight_decay: 5e-4);
        using (var reader = new BinaryReader(new MemoryStream(ourState)))
            fresh.load_state_dict(reader);
        Assert.Equal(theirState, Save(fresh));
    }
}
