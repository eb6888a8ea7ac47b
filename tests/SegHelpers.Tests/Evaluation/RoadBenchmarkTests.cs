using System.Text.Json;
using SegHelpers.Data;
using SegHelpers.Evaluation;

namespace SegHelpers.Tests.Evaluation;

public class RoadBenchmarkTests
{
    const byte R = RoadLabel.Road, N = RoadLabel.NonRoad, X = RoadLabel.Ignore;

    static string Devkit(string name) => Path.Combine(AppContext.BaseDirectory, "Fixtures", "devkit", name);

    [Fact]
    public void Scores_match_the_devkit_definitions_computed_by_numpy_and_opencv()
    {
        var data = KittiRoad.Open(Devkit("data_road"));
        var expected = JsonDocument.Parse(File.ReadAllText(Devkit("expected.json"))).RootElement;

        var scores = RoadEvaluation.Score(data.Training, Devkit("probs")).Benchmark;

        Assert.Equal(["UM_ROAD", "UMM_ROAD", "UU_ROAD", "URBAN_ROAD"], scores.Select(s => s.Category));
        foreach (var s in scores)
        {
            var e = expected.GetProperty(s.Category);
            Assert.Equal(e.GetProperty("totalPosNum").GetInt64(), s.Positives);
            Assert.Equal(e.GetProperty("totalNegNum").GetInt64(), s.Negatives);
            foreach (var (key, actual) in new[] { ("MaxF", s.MaxF), ("AvgPrec", s.AveragePrecision), ("PRE_wp", s.Precision), ("REC_wp", s.Recall),
                         ("FPR_wp", s.FalsePositiveRate), ("FNR_wp", s.FalseNegativeRate), ("BestThresh", s.BestThreshold) })
                Assert.True(Math.Abs(e.GetProperty(key).GetDouble() - actual) <= 1e-6, $"{s.Category} {key}: devkit {e.GetProperty(key).GetDouble()}, ours {actual}");
        }
    }

    [Fact]
    public void A_perfect_prediction_scores_one_everywhere()
    {
        var benchmark = new RoadBenchmark();
        benchmark.Add(RoadCategory.Um, [255, 255, 0, 0, 17], [R, R, N, N, X]);

        var s = benchmark.Score(RoadCategory.Um);

        Assert.Equal(1, s.MaxF, 9);
        Assert.Equal(1, s.AveragePrecision, 9);
        Assert.Equal((1f, 1f, 0f, 0f), ((float)s.Precision, (float)s.Recall, (float)s.FalsePositiveRate, (float)s.FalseNegativeRate));
        Assert.Equal(1 / 255.0, s.BestThreshold);
        Assert.Equal((2, 2), (s.Positives, s.Negatives));
    }

    [Fact]
    public void An_inverted_prediction_is_best_at_threshold_zero_where_everything_is_road()
    {
        var benchmark = new RoadBenchmark();
        benchmark.Add(RoadCategory.Uu, [0, 0, 0, 255], [R, R, R, N]);

        var s = benchmark.Score(RoadCategory.Uu);

        // t = 0: TP 3, FP 1 → P 0.75, R 1, F 6/7. Every higher threshold leaves TP = 0 and is dropped.
        Assert.Equal(6 / 7.0, s.MaxF, 9);
        Assert.Equal(0, s.BestThreshold);
        Assert.Equal([0.0], s.Thresholds);
        Assert.Equal(0.75, s.AveragePrecision, 9);
        Assert.Equal(1f, (float)s.FalsePositiveRate);
    }

    [Fact]
    public void A_pixel_at_exactly_the_threshold_counts_as_road()
    {
        var benchmark = new RoadBenchmark();
        benchmark.Add(RoadCategory.Um, [100, 99], [R, N]);

        var s = benchmark.Score(RoadCategory.Um);

        Assert.Equal(1, s.MaxF, 9);
        Assert.Equal(100 / 255.0, s.BestThreshold); // t = 100/255 keeps 100 and drops 99
    }

    [Fact]
    public void Ties_pick_the_first_threshold_reaching_the_maximum()
    {
        var benchmark = new RoadBenchmark();
        benchmark.Add(RoadCategory.Umm, [200, 200, 10], [R, R, N]);

        var s = benchmark.Score(RoadCategory.Umm);

        Assert.Equal(1, s.MaxF, 9);
        Assert.Equal(11 / 255.0, s.BestThreshold); // thresholds 11…200 all give F = 1
    }

    [Fact]
    public void Dont_care_pixels_count_nowhere_and_an_all_dont_care_image_adds_nothing()
    {
        var a = new RoadBenchmark();
        a.Add(RoadCategory.Um, [200, 10, 90], [R, N, R]);
        var b = new RoadBenchmark();
        b.Add(RoadCategory.Um, [200, 10, 90, 255, 0], [R, N, R, X, X]);
        b.Add(RoadCategory.Um, [255, 0, 3], [X, X, X]);

        var sa = a.Score(RoadCategory.Um);
        var sb = b.Score(RoadCategory.Um);

        Assert.Equal((sa.Positives, sa.Negatives, sa.MaxF, sa.AveragePrecision), (sb.Positives, sb.Negatives, sb.MaxF, sb.AveragePrecision));
        Assert.Equal(2, sb.Images);
    }

    [Fact]
    public void Urban_pools_the_counts_rather_than_averaging_the_scores()
    {
        var benchmark = new RoadBenchmark();
        benchmark.Add(RoadCategory.Um, [200, 200, 10, 10], [R, R, N, N]);
        benchmark.Add(RoadCategory.Uu, [100, 10], [N, R]);
        var pooled = new RoadBenchmark();
        pooled.Add(RoadCategory.Um, [200, 200, 10, 10, 100, 10], [R, R, N, N, N, R]);

        var all = benchmark.ScoreAll();

        Assert.Equal(["UM_ROAD", "UU_ROAD", "URBAN_ROAD"], all.Select(s => s.Category));
        var urban = all[^1];
        var expected = pooled.Score(RoadCategory.Um);
        Assert.Equal((expected.Positives, expected.Negatives, expected.MaxF, expected.AveragePrecision, expected.BestThreshold),
            (urban.Positives, urban.Negatives, urban.MaxF, urban.AveragePrecision, urban.BestThreshold));
        Assert.NotEqual((all[0].MaxF + all[1].MaxF) / 2, urban.MaxF, 6);
    }

    [Fact]
    public void A_category_without_road_pixels_scores_nan()
    {
        var benchmark = new RoadBenchmark();
        benchmark.Add(RoadCategory.Uu, [10, 20], [N, N]);

        Assert.True(double.IsNaN(benchmark.Score(RoadCategory.Uu).MaxF));
    }

    [Fact]
    public void Missing_and_colour_probability_maps_are_errors_naming_the_file()
    {
        using var dir = new TempDir();
        var data = KittiRoad.Open(Devkit("data_road"));
        foreach (var file in Directory.GetFiles(Devkit("probs")))
            File.Copy(file, Path.Combine(dir.Path, Path.GetFileName(file)));
        File.Delete(dir["umm_road_000001.png"]);

        var missing = Assert.Throws<BadInputException>(() => RoadEvaluation.Score(data.Training, dir.Path));
        Assert.Contains("umm_road_000001.png", missing.Message);

        var label = ImageFile.ReadRgb(data.Training[0].LabelPath!);
        ImageFile.WritePng(dir["umm_road_000001.png"], label);
        var colour = Assert.Throws<BadInputException>(() => RoadEvaluation.Score(data.Training, dir.Path));
        Assert.Contains("umm_road_000001.png", colour.Message);
        Assert.Contains("grayscale", colour.Message);
    }
}
