using System.Diagnostics;
using System.Text.Json;
using System.Text.RegularExpressions;
using SegHelpers.Data;
using SegHelpers.Tests.Data;
using SegHelpers.Tests.Notebooks;

namespace SegHelpers.Tests.SageMaker;

/// <summary>The scripts in environment/ and bench/: shellcheck-clean, the setup's plan, the lifecycle scripts' errors, the container entry point.</summary>
public class EnvironmentScriptsTests
{
    static readonly string[] Scripts = ["environment/setup.sh", "environment/on-create.sh", "environment/on-start.sh", "environment/sagemaker/train", "environment/sagemaker/serve", "bench/compare.sh", "bench/profile.sh"];

    static (int Exit, string Output) Bash(string script, IReadOnlyDictionary<string, string> environment, params string[] args)
    {
        var start = new ProcessStartInfo("bash", [Repository.Path(script), .. args]) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var (name, value) in environment)
            start.Environment[name] = value;
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        string stdout = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, stdout + stderr.GetAwaiter().GetResult());
    }

    [Fact]
    public void Every_script_passes_shellcheck()
    {
        var start = new ProcessStartInfo("shellcheck", ["-x", .. Scripts.Select(Repository.Path)])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = Repository.Root,
        };
        Process process;
        try
        {
            process = Process.Start(start)!;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            Assert.Fail("shellcheck is not installed: `apt-get install shellcheck` (test.sh does this when it runs as root)");
            return;
        }
        using (process)
        {
            string output = process.StandardOutput.ReadToEnd() + process.StandardError.ReadToEnd();
            process.WaitForExit();
            Assert.True(process.ExitCode == 0, output);
        }
    }

    [Fact]
    public void Setup_plans_the_sdk_of_global_json_the_pinned_kernel_and_the_cpu_backend_without_a_gpu()
    {
        string sdk = JsonDocument.Parse(File.ReadAllText(Repository.Path("global.json"))).RootElement.GetProperty("sdk").GetProperty("version").GetString()!;

        var (exit, output) = Bash("environment/setup.sh", new Dictionary<string, string> { ["SEG_DRY_RUN"] = "1", ["PATH"] = "/usr/bin:/bin" });

        Assert.True(exit == 0, output);
        Assert.Contains($".NET SDK {sdk} in /home/ec2-user/SageMaker/.dotnet", output);
        Assert.Contains($"kernel {DotNetInteractive.Version}", output);
        Assert.Contains("backend cpu", output);
        Assert.Contains("caches: NuGet /home/ec2-user/SageMaker/.nuget/packages; weights /home/ec2-user/SageMaker/.cache/torch/hub/checkpoints; " +
                        "KITTI /home/ec2-user/SageMaker/data/kitti", output);
    }

    [Fact]
    public void Lifecycle_scripts_without_the_repository_stop_saying_what_to_do()
    {
        using var dir = new TempDir();
        var nowhere = new Dictionary<string, string> { ["SEG_REPO"] = dir["nowhere"] };

        var start = Bash("environment/on-start.sh", nowhere);
        var create = Bash("environment/on-create.sh", nowhere);

        Assert.Equal(1, start.Exit);
        Assert.Contains("run on-create.sh first", start.Output);
        Assert.Equal(1, create.Exit);
        Assert.Contains("set SEG_REPO_URL", create.Output);
    }

    [Fact]
    public void The_container_entry_point_runs_a_job_and_prints_what_the_metric_definitions_read()
    {
        using var dir = new TempDir();
        SyntheticRoads.Write(dir["opt/ml/input/data/training"], new SyntheticOptions(8, 3, 0, 48, 160));
        Directory.CreateDirectory(dir["opt/ml/input/config"]);
        File.WriteAllText(dir["opt/ml/input/config/hyperparameters.json"], """{"epochs": "1", "warmup-epochs": "0", "size": "32x96", "width-divisor": "4", "batch-size": "2"}""");

        var (exit, output) = Bash("environment/sagemaker/train", new Dictionary<string, string>
        {
            ["SEG_APP"] = Path.Combine(AppContext.BaseDirectory, "seg.dll"),
            ["SEG_SAGEMAKER_ROOT"] = dir["opt/ml"],
        });

        Assert.True(exit == 0, output);
        Assert.True(File.Exists(dir["opt/ml/model/best.safetensors"]));
        foreach (string example in new[] { "training-job.json", "tuning-job.json" })
        {
            var root = JsonDocument.Parse(File.ReadAllText(Repository.Path($"environment/sagemaker/{example}"))).RootElement;
            var algorithm = root.TryGetProperty("TrainingJobDefinition", out var definition) ? definition.GetProperty("AlgorithmSpecification") : root.GetProperty("AlgorithmSpecification");
            foreach (var metric in algorithm.GetProperty("MetricDefinitions").EnumerateArray())
            {
                var match = Regex.Match(output, metric.GetProperty("Regex").GetString()!);
                Assert.True(match.Success && double.TryParse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture, out _),
                    $"{example}: {metric.GetProperty("Name")} finds no number in the job's output");
            }
        }
    }
}
