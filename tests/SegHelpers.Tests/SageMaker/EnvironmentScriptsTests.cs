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
    static readonly string[] Scripts = ["environment/setup.sh", "environment/on-create.sh", "environment/on-start.sh", "environment/sagemaker/train", "environment/sagemaker/serve", "bench/compare.sh", "bench/profile.sh", "bench/onednn_layers.sh", "test.sh", ".ci/run"];

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
    public void Ci_names_the_test_packages_this_machine_lacks_before_its_totals_line()
    {
        using var dir = new TempDir();
        Directory.CreateDirectory(dir[".ci"]);
        File.Copy(Repository.Path(".ci/run"), dir[".ci/run"]);
        string packages = System.Text.RegularExpressions.Regex.Match(File.ReadAllText(Repository.Path("test.sh")), @"(?m)^packages=\((.*)\)$").Groups[1].Value;
        Assert.Contains("chromium", packages);
        File.WriteAllText(dir["test.sh"], $"#!/usr/bin/env bash\npackages=({packages} seg-no-such-package)\necho 'Passed!  - Failed:     0, Passed:     3, Skipped:     1, Total:     4'\n");
        if (!OperatingSystem.IsWindows())
            File.SetUnixFileMode(dir["test.sh"], UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);

        var start = new ProcessStartInfo("bash", [dir[".ci/run"]]) { RedirectStandardOutput = true };
        using var process = Process.Start(start)!;
        var lines = process.StandardOutput.ReadToEnd().TrimEnd().Split('\n');
        process.WaitForExit();

        Assert.Equal(0, process.ExitCode);
        Assert.Equal("tests: 3 passed, 0 failed, 1 skipped", lines[^1]);
        Assert.StartsWith("test packages NOT installed: ", lines[^2]);
        Assert.Contains("seg-no-such-package", lines[^2]);
        foreach (string installed in new[] { "chromium", "jupyter-nbconvert" })
            Assert.DoesNotContain(installed, lines[^2].Split('(')[0]); // installed here (test.sh installs them in CI)
    }

    static (int Exit, string Output) SourceBenchCommon(string segDll)
    {
        var start = new ProcessStartInfo("bash", ["-c", ". bench/common.sh && echo \"decay_off=$decay_off\""])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = Repository.Root,
        };
        start.Environment["SEG_DLL"] = segDll;
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        string stdout = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, stdout + stderr.GetAwaiter().GetResult());
    }

    [Fact]
    public void The_bench_scripts_put_PyTorch_on_the_jemalloc_setting_seg_runs_on_and_name_a_missing_build()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir["seg.dll"], "");

        var (exit, output) = SourceBenchCommon(dir["seg.dll"]);
        var (missingExit, missing) = SourceBenchCommon(dir["absent/seg.dll"]);

        Assert.True(exit == 0, output);
        Assert.Contains($"decay_off={SegHelpers.Native.FastAllocator.Config}\n", output);
        Assert.Equal(2, missingExit);
        Assert.Contains($"error: {dir["absent/seg.dll"]} not found; build first: dotnet build -c Release", missing);
        Assert.DoesNotContain("decay_off=", missing);
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

    /// <summary>
    /// Runs the whole setup as ec2-user would, on stand-ins: uid 1000, a <c>sudo</c> that does or does not allow
    /// passwordless use, a <c>dnf</c> that installs jemalloc into the temp dir, the SDK, kernel tool and Jupyter as fakes.
    /// </summary>
    static (int Exit, string Output, JsonElement Env, string Calls) SetupAsUser(TempDir dir, bool sudoAllowed)
    {
        string sdk = JsonDocument.Parse(File.ReadAllText(Repository.Path("global.json"))).RootElement.GetProperty("sdk").GetProperty("version").GetString()!;
        string bin = dir["fakes"], persist = dir["persist"], home = dir["home"], jupyter = dir["jupyter"], lib = dir["lib/libjemalloc.so.2"], calls = dir["calls.log"];
        foreach (string folder in new[] { bin, $"{persist}/.dotnet/tools", home, $"{jupyter}/bin", dir["lib"] })
            Directory.CreateDirectory(folder);
        void Script(string path, string body)
        {
            File.WriteAllText(path, "#!/usr/bin/env bash\n" + body + "\n");
            if (!OperatingSystem.IsWindows())
                File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
        Script($"{bin}/id", """case "$1" in -u) echo 1000 ;; -un) echo ec2-user ;; *) echo "uid=1000(ec2-user)" ;; esac""");
        Script($"{bin}/sudo", $"""echo "sudo $*" >> {calls}; {(sudoAllowed ? "" : "exit 1;")} [[ "$1" == -n ]] && shift; exec "$@" """);
        Script($"{bin}/dnf", $"""echo "dnf $* as $(id -u)" >> {calls}; touch {lib}""");
        Script($"{persist}/.dotnet/dotnet", $"""[[ "$1" == --list-sdks ]] && echo "{sdk} [{persist}/.dotnet/sdk]"; exit 0""");
        Script($"{persist}/.dotnet/tools/dotnet-interactive", $$"""
            [[ "$1" == --version ]] && { echo {{DotNetInteractive.Version}}; exit 0; }
            mkdir -p "$HOME/.local/share/jupyter/kernels/.net-csharp"
            echo '{"argv": ["dotnet", "interactive", "jupyter", "--default-kernel", "csharp"], "display_name": ".NET (C#)"}' > "$HOME/.local/share/jupyter/kernels/.net-csharp/kernel.json"
            """);
        Script($"{jupyter}/bin/jupyter", "exit 0");
        File.CreateSymbolicLink($"{jupyter}/bin/python", "/usr/bin/python3");

        var (exit, output) = Bash("environment/setup.sh", new Dictionary<string, string>
        {
            ["PATH"] = $"{bin}:/usr/bin:/bin",
            ["HOME"] = home,
            ["SEG_PERSIST"] = persist,
            ["SEG_JUPYTER_ENV"] = jupyter,
            ["SEG_JEMALLOC_PATHS"] = lib,
        });
        string spec = $"{home}/.local/share/jupyter/kernels/.net-csharp/kernel.json";
        var env = File.Exists(spec) ? JsonDocument.Parse(File.ReadAllText(spec)).RootElement.GetProperty("env").Clone() : default;
        return (exit, output, env, File.Exists(calls) ? File.ReadAllText(calls) : "");
    }

    [Fact]
    public void Setup_as_the_notebook_user_installs_jemalloc_with_sudo_and_the_kernel_spec_preloads_it_with_decay_off()
    {
        using var dir = new TempDir();

        var (exit, output, env, calls) = SetupAsUser(dir, sudoAllowed: true);

        Assert.True(exit == 0, output);
        Assert.Contains("sudo -n dnf install -y -q jemalloc", calls);
        Assert.Contains("dnf install -y -q jemalloc as 1000", calls); // the stand-in sudo keeps the uid: the call went through it
        Assert.Equal(dir["lib/libjemalloc.so.2"], env.GetProperty("LD_PRELOAD").GetString());
        Assert.Equal("dirty_decay_ms:-1,muzzy_decay_ms:-1,background_thread:false", env.GetProperty("MALLOC_CONF").GetString());
        Assert.Equal(SegHelpers.Native.FastAllocator.Config, env.GetProperty("MALLOC_CONF").GetString());
        Assert.Equal(dir["persist/.nuget/packages"], env.GetProperty("NUGET_PACKAGES").GetString());
    }

    [Fact]
    public void Setup_as_the_notebook_user_without_sudo_says_how_to_get_jemalloc_and_the_kernel_spec_goes_without()
    {
        using var dir = new TempDir();

        var (exit, output, env, calls) = SetupAsUser(dir, sudoAllowed: false);

        Assert.True(exit == 0, output);
        Assert.DoesNotContain("dnf", calls);
        Assert.Contains("no jemalloc and no way to install it as ec2-user (not root, no passwordless sudo)", output);
        Assert.Contains("sudo dnf install jemalloc", output);
        Assert.False(env.TryGetProperty("LD_PRELOAD", out _), env.ToString());
        Assert.Equal(dir["persist/.nuget/packages"], env.GetProperty("NUGET_PACKAGES").GetString());
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
