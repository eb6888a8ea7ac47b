using System.Diagnostics;
using SegHelpers.Tests.Data;

namespace SegHelpers.Tests.Build;

public class TorchBackendTests
{
    static (int Exit, string Output) CheckBackend(string backend, string nugetPackages, params string[] more)
    {
        var start = new ProcessStartInfo("dotnet", ["msbuild", Repository.Path("src/SegCli/SegCli.csproj"), "-t:CheckTorchBackend", $"-p:TorchBackend={backend}", "-nologo", .. more])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.Environment["NUGET_PACKAGES"] = nugetPackages;
        using var process = Process.Start(start)!;
        string output = process.StandardOutput.ReadToEnd() + process.StandardError.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, output);
    }

    [Fact]
    public void The_cuda_backend_alone_restores_from_nuget_org_on_a_fresh_cache()
    {
        using var emptyCache = new TempDir();

        var (exit, output) = CheckBackend("cuda", emptyCache.Path, "-getProperty:RestoreAdditionalProjectSources");
        var cpu = CheckBackend("cpu", emptyCache.Path, "-getProperty:RestoreAdditionalProjectSources");

        Assert.True(exit == 0, output);
        Assert.Contains("https://api.nuget.org/v3/index.json", output);
        Assert.True(cpu.Exit == 0, cpu.Output);
        Assert.DoesNotContain("nuget.org", cpu.Output);
    }

    [Fact]
    public void The_cuda_backend_kept_off_nuget_org_without_its_package_stops_the_build_saying_how_to_get_it()
    {
        using var emptyCache = new TempDir();

        var (exit, output) = CheckBackend("cuda", emptyCache.Path, "-p:TorchCudaFromNuGetOrg=false");

        Assert.NotEqual(0, exit);
        Assert.Contains("TorchSharp-cuda-linux 0.107.0", output);
        Assert.Contains("build once with -p:TorchBackend=cuda alone", output);
    }

    [Fact]
    public void The_cuda_backend_with_its_package_in_the_cache_and_the_cpu_default_pass_the_check()
    {
        using var cache = new TempDir();
        Directory.CreateDirectory(cache["torchsharp-cuda-linux/0.107.0"]);

        Assert.Equal(0, CheckBackend("cuda", cache.Path, "-p:TorchCudaFromNuGetOrg=false").Exit);
        Assert.Equal(0, CheckBackend("cpu", cache.Path).Exit);
        Assert.Equal(0, CheckBackend("none", cache.Path).Exit);
        Assert.Contains("is not cpu, cuda or none", CheckBackend("rocm", cache.Path).Output);
    }
}
