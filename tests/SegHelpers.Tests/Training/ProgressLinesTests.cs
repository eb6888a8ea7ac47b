using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using SegHelpers.Training;

namespace SegHelpers.Tests.Training;

public class ProgressLinesTests
{
    [Fact]
    public void Every_SageMaker_metric_definition_reads_its_own_number_from_the_epoch_line()
    {
        var metrics = new EpochMetrics(7, 0.4321, 0.3456, 0.8765, 0.91, 0.95, 0.93, 0.8912, 1e-4, 62, 3.2, 5000, 0, IsBest: true);
        string line = ProgressLines.Epoch(metrics);
        var expected = new Dictionary<string, double>
        {
            ["train:loss"] = 0.4321, ["val:loss"] = 0.3456, ["val:road_iou"] = 0.8765, ["val:maxf"] = 89.12,
        };

        int checkedCount = 0;
        foreach (string example in new[] { "training-job.json", "tuning-job.json" })
        {
            var root = JsonDocument.Parse(File.ReadAllText(Repository.Path($"environment/sagemaker/{example}"))).RootElement;
            var algorithm = root.TryGetProperty("TrainingJobDefinition", out var definition) ? definition.GetProperty("AlgorithmSpecification") : root.GetProperty("AlgorithmSpecification");
            foreach (var metric in algorithm.GetProperty("MetricDefinitions").EnumerateArray())
            {
                string name = metric.GetProperty("Name").GetString()!;
                var match = Regex.Match(line, metric.GetProperty("Regex").GetString()!);
                Assert.True(match.Success, $"{example}: {name} does not match '{line}'");
                Assert.Equal(expected[name], double.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture), 4);
                checkedCount++;
            }
        }
        Assert.True(checkedCount >= 4);
    }
}
