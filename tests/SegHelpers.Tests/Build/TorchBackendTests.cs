using System.Diagnostics;
using SegHelpers.Tests.Data;

namespace SegHelpers.Tests.Build;

public class TorchBackendTests
{
    static (int Exit, string Output) CheckBackend(string backend, string nugetPackages)
    {
        var start = new ProcessStartInfo("dotnet", ["msbuild", Repository.Path("src/SegCli/SegCli.csproj"), "-t:CheckTorchBackend", $"-p:TorchBackend={backend}", "-nologo"])
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
    public void The_cuda_backend_without_its_package_stops_the_build_saying_how_to_get_it()
    {
        using var emptyCache = new TempDir();

        var (exit, output) = CheckBackend("cuda", emptyCache.Path);

        Assert.NotEqual(0, exit);
        Assert.Contains("TorchSharp-cuda-linux 0.107.0", output);
        Assert.Contains("-p:TorchCudaFromNuGetOrg=true", output);
    }

    [Fact]
    public void The_cuda_backend_with_its_package_in_the_cache_and_the_cpu_default_pass_the_check()
    {
        using var cache = new TempDir();
        Directory.CreateDirectory(cache["torchsharp-cuda-linux/0.107.0"]);

        Assert.Equal(0, CheckBackend("cuda", cache.Path).Exit);
        Assert.Equal(0, CheckBackend("cpu", cache.Path).Exit);
        Assert.Contains("is not cpu or cuda", CheckBackend("rocm", cache.Path).Output);
    }
}
