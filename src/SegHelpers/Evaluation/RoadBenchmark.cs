using SegHelpers.Data;

namespace SegHelpers.Evaluation;

/// <summary>
/// The KITTI Road benchmark's pixel metrics in perspective space, as the official <c>devkit_road</c>
/// (<c>evaluateRoad.py</c> with <c>helper.evalExp</c>, <c>pxEval_maximizeFMeasure</c>, <c>calcEvalMeasures</c>) computes them.
/// <list type="bullet">
/// <item>A probability map is 8-bit; the devkit reads it as the float32 value <c>v / 255</c>.</item>
/// <item>Thresholds are the float64 values <c>t / 255</c>, t = 0…255. A pixel counts as road at threshold t when
/// its float32 probability (compared in float64) is ≥ the threshold, numpy's histogram bins being [a, b).
/// The comparison table is computed that way rather than assumed; it comes out as "value v is road for t ≤ v",
/// since float32 <c>v/255</c> is never below float64 <c>v/255</c>.</item>
/// <item>Only evaluated pixels count (label red &gt; 0); road is label blue &gt; 0 (see <see cref="RoadLabel"/>).</item>
/// <item>Per category, FN and FP are summed over images for every threshold; TP = positives − FN.</item>
/// <item>recall = TP / positives; precision = TP / (TP + FP + 1e-10); thresholds where both are 0 are dropped.</item>
/// <item><b>MaxF</b> = max over thresholds of 2PR / (P + R + 1e-10), the first maximum winning; <b>BestThresh</b> is its threshold.</item>
/// <item><b>AP</b> = mean over r = 0, 0.1, …, 1.0 (numpy's <c>arange(0, 1.1, 0.1)</c> values) of the maximum precision at recall ≥ r.</item>
/// <item><b>PRE, REC, FPR, FNR</b> are computed in float32 from the counts at the MaxF threshold:
/// TP/(TP+FP), TP/(TP+FN), FP/(TN+FP), FN/(TP+FN).</item>
/// <item>URBAN_ROAD pools the counts of UM_ROAD, UMM_ROAD and UU_ROAD, as the benchmark's overall category does.</item>
/// </list>
/// </summary>
public sealed class RoadBenchmark
{
    /// <summary>Number of thresholds (t / 255, t = 0…255).</summary>
    public const int ThresholdCount = 256;

    /// <summary>The pooled category's name.</summary>
    public const string Urban = "URBAN_ROAD";

    /// <summary>For each 8-bit value, how many thresholds it reaches: it is road at threshold t iff t &lt; Reach[v].</summary>
    static readonly int[] Reach = BuildReach();

    readonly Dictionary<RoadCategory, Counts> _counts = [];

    /// <summary>Adds one image: its 8-bit road probabilities and its decoded label (0 non-road, 1 road, 255 don't-care), same length.</summary>
    public void Add(RoadCategory category, ReadOnlySpan<byte> probability, ReadOnlySpan<byte> mask)
    {
        if (probability.Length != mask.Length)
            throw new ArgumentException($"probability map has {probability.Length} pixels but the label has {mask.Length}");
        if (!_counts.TryGetValue(category, out var counts))
            _counts[category] = counts = new Counts();
        counts.Images++;
        for (int i = 0; i < mask.Length; i++)
        {
            if (mask[i] == RoadLabel.Road)
                counts.Road[probability[i]]++;
            else if (mask[i] == RoadLabel.NonRoad)
                counts.NonRoad[probability[i]]++;
        }
    }

    /// <summary>Categories with at least one image, in KITTI order.</summary>
    public IEnumerable<RoadCategory> Categories => _counts.Keys.Order();

    /// <summary>Scores of one category.</summary>
    public BenchmarkScores Score(RoadCategory category) =>
        _counts.TryGetValue(category, out var counts)
            ? Score($"{category.ToString().ToUpperInvariant()}_ROAD", counts)
            : throw new ArgumentException($"no {category} image was added");

    /// <summary>Scores of every category added, then <see cref="Urban"/> pooled over them.</summary>
    public IReadOnlyList<BenchmarkScores> ScoreAll()
    {
        var pooled = new Counts();
        foreach (var counts in _counts.Values)
            pooled.Add(counts);
        return [.. Categories.Select(Score), Score(Urban, pooled)];
    }

    static BenchmarkScores Score(string name, Counts counts)
    {
        long positives = counts.Road.Sum(), negatives = counts.NonRoad.Sum();
        var fn = new long[ThresholdCount];
        var fp = new long[ThresholdCount];
        for (int v = 0; v < 256; v++)
            for (int t = 0; t < ThresholdCount; t++)
                if (t < Reach[v])
                    fp[t] += counts.NonRoad[v];
                else
                    fn[t] += counts.Road[v];

        var thresholds = new List<double>();
        var precision = new List<double>();
        var recall = new List<double>();
        var f = new List<double>();
        for (int t = 0; t < ThresholdCount; t++)
        {
            long tp = positives - fn[t];
            double r = tp / (double)positives;
            double p = tp / (tp + fp[t] + 1e-10);
            if (r == 0 && p == 0)
                continue;
            thresholds.Add(t / 255.0);
            recall.Add(r);
            precision.Add(p);
            f.Add(2 * p * r / (p + r + 1e-10));
        }
        if (positives == 0 || f.Count == 0)
            return new BenchmarkScores(name, counts.Images, positives, negatives, double.NaN, double.NaN, double.NaN, double.NaN,
                double.NaN, double.NaN, double.NaN, [], [], [], []);

        int best = 0;
        for (int i = 1; i < f.Count; i++)
            if (f[i] > f[best])
                best = i;

        double ap = 0;
        for (int k = 0; k <= 10; k++)
        {
            double level = k * 0.1;
            double max = double.NegativeInfinity;
            for (int i = 0; i < recall.Count; i++)
                if (recall[i] >= level && precision[i] > max)
                    max = precision[i];
            ap += double.IsNegativeInfinity(max) ? 0 : max;
        }
        ap /= 11;

        int bestT = (int)Math.Round(thresholds[best] * 255);
        float tpF = (uint)(positives - fn[bestT]), fpF = (uint)fp[bestT], fnF = (uint)fn[bestT], tnF = (uint)(negatives - fp[bestT]);
        return new BenchmarkScores(name, counts.Images, positives, negatives, f[best], ap,
            tpF / (tpF + fpF), tpF / (tpF + fnF), fpF / (tnF + fpF), fnF / (tpF + fnF), thresholds[best],
            [.. thresholds], [.. precision], [.. recall], [.. f]);
    }

    static int[] BuildReach()
    {
        var reach = new int[256];
        for (int v = 0; v < 256; v++)
        {
            double probability = (float)v / 255f;
            int t = 0;
            while (t < ThresholdCount && probability >= t / 255.0)
                t++;
            reach[v] = t;
        }
        return reach;
    }

    sealed class Counts
    {
        public readonly long[] Road = new long[256];
        public readonly long[] NonRoad = new long[256];
        public int Images;

        public void Add(Counts other)
        {
            Images += other.Images;
            for (int v = 0; v < 256; v++)
            {
                Road[v] += other.Road[v];
                NonRoad[v] += other.NonRoad[v];
            }
        }
    }
}

/// <summary>The KITTI Road benchmark's figures for one category (see <see cref="RoadBenchmark"/> for definitions).</summary>
/// <param name="Category">UM_ROAD, UMM_ROAD, UU_ROAD or URBAN_ROAD.</param>
/// <param name="Images">Images scored.</param>
/// <param name="Positives">Evaluated road pixels.</param>
/// <param name="Negatives">Evaluated non-road pixels.</param>
/// <param name="MaxF">Maximum F1 over thresholds (NaN without road pixels).</param>
/// <param name="AveragePrecision">11-point Pascal VOC average precision.</param>
/// <param name="Precision">PRE at the MaxF threshold.</param>
/// <param name="Recall">REC at the MaxF threshold.</param>
/// <param name="FalsePositiveRate">FPR at the MaxF threshold.</param>
/// <param name="FalseNegativeRate">FNR at the MaxF threshold.</param>
/// <param name="BestThreshold">The MaxF threshold.</param>
/// <param name="Thresholds">The kept thresholds (those where precision or recall is not 0).</param>
/// <param name="PrecisionCurve">Precision at each kept threshold.</param>
/// <param name="RecallCurve">Recall at each kept threshold.</param>
/// <param name="FCurve">F1 at each kept threshold.</param>
public sealed record BenchmarkScores(
    string Category, int Images, long Positives, long Negatives,
    double MaxF, double AveragePrecision, double Precision, double Recall, double FalsePositiveRate, double FalseNegativeRate, double BestThreshold,
    double[] Thresholds, double[] PrecisionCurve, double[] RecallCurve, double[] FCurve);
