using SegHelpers.Evaluation;
using static TorchSharp.torch;

namespace SegHelpers.Tests.Evaluation;

public class ConfusionMatrixTests
{
    [Fact]
    public void Counts_iou_precision_recall_and_accuracy_by_hand_leaving_out_dont_care()
    {
        using var scope = NewDisposeScope();
        // truth:      1 1 1 0 0 255 ; predicted: 1 1 0 1 0 1
        var truth = tensor(new long[] { 1, 1, 1, 0, 0, 255 });
        var predicted = tensor(new long[] { 1, 1, 0, 1, 0, 1 });
        var matrix = new ConfusionMatrix(2);

        matrix.Update(predicted, truth);

        Assert.Equal(5, matrix.Total);
        Assert.Equal(2, matrix[1, 1]);
        Assert.Equal(1, matrix[1, 0]);
        Assert.Equal(1, matrix[0, 1]);
        Assert.Equal(1, matrix[0, 0]);
        Assert.Equal(2.0 / 4, matrix.IoU(1), 12);
        Assert.Equal(1.0 / 3, matrix.IoU(0), 12);
        Assert.Equal((0.5 + 1.0 / 3) / 2, matrix.MeanIoU(), 12);
        Assert.Equal(3.0 / 5, matrix.PixelAccuracy(), 12);
        Assert.Equal(2.0 / 3, matrix.Precision(1), 12);
        Assert.Equal(2.0 / 3, matrix.Recall(1), 12);
        Assert.Equal(2.0 / 3, matrix.F1(1), 12);
    }

    [Fact]
    public void Nothing_predicted_as_road_gives_zero_iou_and_f1_and_absent_classes_are_nan()
    {
        using var scope = NewDisposeScope();
        var matrix = new ConfusionMatrix(2);

        matrix.Update(zeros(4, dtype: ScalarType.Int64), tensor(new long[] { 1, 1, 0, 0 }));
        var onlyIgnored = new ConfusionMatrix(2);
        onlyIgnored.Update(zeros(3, dtype: ScalarType.Int64), full(3, 255L));

        Assert.Equal(0, matrix.IoU(1));
        Assert.Equal(0, matrix.F1(1));
        Assert.Equal(0, onlyIgnored.Total);
        Assert.True(double.IsNaN(onlyIgnored.IoU(1)));
    }
}
