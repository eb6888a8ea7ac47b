using System.Diagnostics;
using SegHelpers.Data;
using SegHelpers.Tests.Cli;
using SegHelpers.Tests.Data;
using SegHelpers.Training;

namespace SegHelpers.Tests.SageMaker;

/// <summary>
/// <c>seg sagemaker train</c> (the Training Job container's entry point) against a folder laid out like <c>/opt/ml</c>:
/// hyperparameters as strings, data from the training channel, the model in model/, checkpoints for spot resume,
/// and the failure file.
/// </summary>
public class SageMakerContractTests
{
    static Dictionary<string, string> Root(TempDir dir) => new() { ["SEG_SAGEMAKER_ROOT"] = dir["opt/ml"] };

    static void Hyperparameters(TempDir dir, string json)
    {
        Directory.CreateDirectory(dir["opt/ml/input/config"]);
        File.WriteAllText(dir["opt/ml/input/config/hyperparameters.json"], json);
    }

    [Fact]
    public void A_job_trains_from_the_training_channel_and_leaves_the_model_in_model_dir()
    {
        using var dir = new TempDir();
        SyntheticRoads.Write(dir["opt/ml/input/data/training"], new SyntheticOptions(8, 3, 0, 48, 160));
        Hyperparameters(dir, """{"epochs": "2", "size": "32x96", "width_divisor": "4", "batch-size": "2", "sagemaker_region": "\"eu-west-1\""}""");

        var (exit, stdout, stderr) = Seg.Run(Root(dir), "sagemaker", "train");

        Assert.True(exit == 0, stdout + stderr);
        Assert.Equal(["best.safetensors", "metrics.jsonl", "options.json"], Directory.GetFiles(dir["opt/ml/model"]).Select(Path.GetFileName).Order());
        Assert.Equal([1, 2], new RunFolder(dir["opt/ml/checkpoints"]).ReadMetrics().Select(m => m.Epoch));
        Assert.Equal((32, 96, 4), new RunFolder(dir["opt/ml/model"]).ReadInfo().Options is var o ? (o.Height, o.Width, o.WidthDivisor) : default);
        Assert.Matches(@"road IoU [0-9.]+  MaxF [0-9.]+", stdout);
        Assert.False(File.Exists(dir["opt/ml/output/failure"]));
    }

    [Fact]
    public void A_bad_hyperparameter_or_missing_data_fails_the_job_with_the_reason_in_the_failure_file()
    {
        using var dir = new TempDir();
        Hyperparameters(dir, """{"epochs": "2", "sizes": "32x96"}""");

        var typo = Seg.Run(Root(dir), "sagemaker", "train");
        string typoReason = File.ReadAllText(dir["opt/ml/output/failure"]);
        Hyperparameters(dir, """{"epochs": "2"}""");
        var noData = Seg.Run(Root(dir), "sagemaker", "train");
        string noDataReason = File.ReadAllText(dir["opt/ml/output/failure"]);

        Assert.Equal(2, typo.Exit);
        Assert.Contains("'sizes' is not a seg train option", typoReason);
        Assert.Equal(2, noData.Exit);
        Assert.Contains(dir["opt/ml/input/data/training"], noDataReason);
        Assert.False(Directory.Exists(dir["opt/ml/model"]));
    }

    [Fact]
    public async Task A_restarted_job_resumes_from_the_checkpoints_folder()
    {
        using var dir = new TempDir();
        SyntheticRoads.Write(dir["opt/ml/input/data/training"], new SyntheticOptions(40, 5, 0, 64, 200));
        Hyperparameters(dir, """{"epochs": "2", "size": "64x192", "width-divisor": "4", "batch-size": "1"}""");
        var start = new ProcessStartInfo("dotnet", [Path.Combine(AppContext.BaseDirectory, "seg.dll"), "sagemaker", "train"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.Environment["SEG_SAGEMAKER_ROOT"] = dir["opt/ml"];
        using (var process = Process.Start(start)!)
        {
            var stderr = process.StandardError.ReadToEndAsync();
            string? line;
            while ((line = process.StandardOutput.ReadLine()) is not null && !line.StartsWith("epoch 1 step 1/", StringComparison.Ordinal))
            {
            }
            Assert.NotNull(line);
            Process.Start("kill", ["-TERM", $"{process.Id}"]).WaitForExit(); // what SageMaker sends a spot job before it stops
            string rest = await process.StandardOutput.ReadToEndAsync();
            Assert.True(process.WaitForExit(TimeSpan.FromMinutes(2)));
            Assert.True(process.ExitCode == 130, rest + await stderr);
        }
        Assert.True(File.Exists(dir["opt/ml/checkpoints/last.safetensors"]));
        Assert.False(Directory.Exists(dir["opt/ml/model"]));

        var (exit, stdout, err) = Seg.Run(Root(dir), "sagemaker", "train");

        Assert.True(exit == 0, stdout + err);
        Assert.Contains("resuming the run", stdout);
        Assert.Equal([1, 2], new RunFolder(dir["opt/ml/model"]).ReadMetrics().Select(m => m.Epoch));
    }
}
