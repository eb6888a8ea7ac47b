using SegHelpers.Data;
using SegHelpers.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace SegHelpers.Tests.Training;

public class RoadLossTests
{
    static (Tensor Logits, Tensor Masks) Example()
    {
        using var generator = new Generator(5, CPU);
        var logits = randn([2, 2, 3, 4], generator: generator);
        var masks = randint(0, 2, [2, 3, 4], dtype: ScalarType.Int64, generator: generator);
        masks[0, 0] = tensor(RoadLabel.Ignore);
        masks[1, .., 3] = tensor(RoadLabel.Ignore);
        return (logits, masks);
    }

    [Fact]
    public void Loss_is_the_mean_cross_entropy_over_evaluated_pixels_only()
    {
        using var scope = NewDisposeScope();
        var (logits, masks) = Example();
        using var loss = new RoadLoss();

        double value = loss.Compute(logits, masks).item<float>();

        var logp = logits.log_softmax(1);
        double sum = 0;
        int count = 0;
        for (int n = 0; n < 2; n++)
            for (int y = 0; y < 3; y++)
                for (int x = 0; x < 4; x++)
                {
                    long label = masks[n, y, x].item<long>();
                    if (label == RoadLabel.Ignore)
                        continue;
                    sum -= logp[n, label, y, x].item<float>();
                    count++;
                }
        Assert.Equal(24 - 4 - 3, count); // row 0 of image 0, column 3 of image 1
        Assert.Equal(sum / count, value, 5);
    }

    [Fact]
    public void Dont_care_pixels_change_neither_the_loss_nor_get_any_gradient()
    {
        using var scope = NewDisposeScope();
        var (logits, masks) = Example();
        using var loss = new RoadLoss(classWeights: [1.0, 3.0]);
        var ignored = masks.eq(RoadLabel.Ignore).unsqueeze(1).expand(-1, 2, -1, -1);

        var a = logits.clone().requires_grad_();
        var b = logits.masked_fill(ignored, 1000).requires_grad_();
        var lossA = loss.Compute(a, masks);
        var lossB = loss.Compute(b, masks);
        lossA.backward();
        lossB.backward();

        Assert.Equal(lossA.item<float>(), lossB.item<float>());
        Assert.Equal(0f, a.grad!.masked_select(ignored).abs().max().item<float>());
        Assert.True(a.grad!.masked_select(ignored.logical_not()).abs().max().item<float>() > 0);
    }
}
