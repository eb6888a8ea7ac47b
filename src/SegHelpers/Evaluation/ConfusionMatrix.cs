using SegHelpers.Native;
using TorchSharp;
using static TorchSharp.torch;

namespace SegHelpers.Evaluation;

/// <summary>
/// Counts of (true class, predicted class) over evaluated pixels; don't-care pixels
/// (<see cref="Data.RoadLabel.Ignore"/>) are left out. Accumulates batch by batch on the batches' device,
/// like torchvision's segmentation reference <c>ConfusionMatrix</c>.
/// </summary>
public sealed class ConfusionMatrix
{
    readonly long[,] _counts;

    /// <summary>An empty matrix for <paramref name="classes"/> classes.</summary>
    public ConfusionMatrix(int classes = 2)
    {
        Classes = classes;
        _counts = new long[classes, classes];
    }

    /// <summary>Number of classes.</summary>
    public int Classes { get; }

    /// <summary>Pixels of true class <paramref name="truth"/> predicted as <paramref name="predicted"/>.</summary>
    public long this[int truth, int predicted] => _counts[truth, predicted];

    /// <summary>Evaluated pixels counted so far.</summary>
    public long Total { get; private set; }

    /// <summary>Adds predicted classes and true classes of the same shape (any integer type); targets outside [0, classes) are skipped.</summary>
    public void Update(Tensor predicted, Tensor target)
    {
        if (!predicted.shape.SequenceEqual(target.shape))
            throw new ArgumentException($"prediction [{string.Join(", ", predicted.shape)}] and target [{string.Join(", ", target.shape)}] differ in shape");
        using var scope = NewDisposeScope();
        var t = target.to(ScalarType.Int64).flatten();
        var p = predicted.to(ScalarType.Int64).flatten();
        using var classes = Classes.ToScalar();
        var valid = t.ge(Scalars.Zero).logical_and(t.lt(classes));
        var index = t.masked_select(valid).mul(classes).Plus(p.masked_select(valid).Clamped(0, Classes - 1));
        var counts = index.bincount(null, Classes * Classes).cpu().data<long>().ToArray();
        for (int i = 0; i < Classes; i++)
            for (int j = 0; j < Classes; j++)
                _counts[i, j] += counts[i * Classes + j];
        Total += counts.Sum();
    }

    /// <summary>Adds another matrix's counts.</summary>
    public void Add(ConfusionMatrix other)
    {
        for (int i = 0; i < Classes; i++)
            for (int j = 0; j < Classes; j++)
                _counts[i, j] += other._counts[i, j];
        Total += other.Total;
    }

    /// <summary>Intersection over union of class <paramref name="c"/>: TP / (TP + FP + FN); NaN when the class never occurs.</summary>
    public double IoU(int c)
    {
        long tp = _counts[c, c], fp = 0, fn = 0;
        for (int k = 0; k < Classes; k++)
        {
            if (k == c)
                continue;
            fp += _counts[k, c];
            fn += _counts[c, k];
        }
        return tp + fp + fn == 0 ? double.NaN : (double)tp / (tp + fp + fn);
    }

    /// <summary>Mean of the per-class IoU over classes that occur.</summary>
    public double MeanIoU() => Enumerable.Range(0, Classes).Select(IoU).Where(v => !double.IsNaN(v)).DefaultIfEmpty(double.NaN).Average();

    /// <summary>Correct pixels / evaluated pixels.</summary>
    public double PixelAccuracy() => Total == 0 ? double.NaN : (double)Enumerable.Range(0, Classes).Sum(c => _counts[c, c]) / Total;

    /// <summary>TP / (TP + FP) for class <paramref name="c"/>.</summary>
    public double Precision(int c)
    {
        long predicted = Enumerable.Range(0, Classes).Sum(k => _counts[k, c]);
        return predicted == 0 ? double.NaN : (double)_counts[c, c] / predicted;
    }

    /// <summary>TP / (TP + FN) for class <paramref name="c"/>.</summary>
    public double Recall(int c)
    {
        long actual = Enumerable.Range(0, Classes).Sum(k => _counts[c, k]);
        return actual == 0 ? double.NaN : (double)_counts[c, c] / actual;
    }

    /// <summary>Harmonic mean of precision and recall for class <paramref name="c"/>.</summary>
    public double F1(int c)
    {
        double r = Recall(c);
        double p = double.IsNaN(Precision(c)) && !double.IsNaN(r) ? 0 : Precision(c); // nothing predicted as c: F1 = 0
        return p + r == 0 ? 0 : 2 * p * r / (p + r);
    }
}
