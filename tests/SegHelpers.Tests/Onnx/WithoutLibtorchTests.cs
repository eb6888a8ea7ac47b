using System.Diagnostics;
using SegHelpers.Data;
using SegHelpers.Serving;
using SegHelpers.Tests.Cli;
using SegHelpers.Tests.Data;

namespace SegHelpers.Tests.Onnx;

/// <summary>
/// The serving image on ONNX Runtime alone: <c>seg</c> published with <c>-p:TorchBackend=none</c> (as
/// environment/sagemaker/Dockerfile does with <c>--build-arg TORCH_BACKEND=none</c>) has no libtorch, serves a .onnx model, and
/// names the build when asked for a libtorch model.
/// </summary>
public class WithoutLibtorchTests
{
    /// <summary>Publishes a copy of the repository's sources the way the image does, into <paramref name="dir"/>/app.</summary>
    static string Publish(TempDir dir)
    {
        string sources = dir["src-copy"];
        foreach (string file in new[] { "Directory.Build.props", "Directory.Build.targets", "Directory.Packages.props", "global.json" })
            CopyFile(Repository.Path(file), Path.Combine(sources, file));
        foreach (string folder in new[] { "build", "src" })
            foreach (string file in Directory.EnumerateFiles(Repository.Path(folder), "*", SearchOption.AllDirectories))
            {
                string relative = Path.GetRelativePath(Repository.Root, file);
                if (relative.Split(Path.DirectorySeparatorChar).Any(part => part is "bin" or "obj"))
                    continue;
                CopyFile(file, Path.Combine(sources, relative));
            }
        var start = new ProcessStartInfo("dotnet", ["publish", Path.Combine(sources, "src/SegCli"), "-c", "Release", "-r", "linux-x64", "--self-contained", "false",
            "-p:TorchBackend=none", "-o", dir["app"], "-nologo"]) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        string errors = process.StandardError.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, output.Result + errors);
        return dir["app"];
    }

    static void CopyFile(string from, string to)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(to)!);
        File.Copy(from, to);
    }

    [Fact]
    public async Task A_build_without_libtorch_serves_an_onnx_model_and_names_itself_when_asked_for_a_libtorch_one()
    {
        using var dir = new TempDir();
        string checkpoint = EvalCommandsTests.TinyCheckpoint(dir);
        var exported = Seg.Run("weights", "export", checkpoint, "--out", dir["model/model.onnx"], "--format", "onnx");
        Assert.True(exported.Exit == 0, exported.Err);
        Kitti.Solid(dir["in/um_000000.png"], 301, 97, (90, 120, 60));
        var expected = Seg.Run("predict", "--model", dir["model/model.onnx"], "--input", dir["in"], "--out", dir["expected"], "--size", "32x96");
        Assert.True(expected.Exit == 0, expected.Err);

        string app = Publish(dir);
        var libtorch = Directory.EnumerateFiles(app, "*", SearchOption.AllDirectories).Select(Path.GetFileName).Where(n => n!.StartsWith("libtorch", StringComparison.Ordinal) || n == "libc10.so").ToList();
        Assert.True(libtorch.Count == 0, $"the build without libtorch has {string.Join(", ", libtorch)}");
        Assert.True(File.Exists(Path.Combine(app, "libonnxruntime.so")) || File.Exists(Path.Combine(app, "runtimes/linux-x64/native/libonnxruntime.so")));

        // TorchSharp would otherwise find libtorch in this machine's NuGet cache, which an image does not have.
        var noCache = new Dictionary<string, string> { ["HOME"] = dir["home"], ["NUGET_PACKAGES"] = dir["home/packages"], ["DOTNET_CLI_HOME"] = dir["home"] };
        Directory.CreateDirectory(dir["home"]);
        using (var server = await ServerProcess.StartAsync(dir["model"], ["--size", "32x96"], Path.Combine(app, "seg.dll"), environment: noCache))
        {
            byte[] map = await server.InvokeAsync(dir["in/um_000000.png"]);
            byte[] overlay = await server.InvokeAsync(dir["in/um_000000.png"], accept: "image/jpeg");
            string maps = File.ReadAllText($"/proc/{server.Id}/maps");

            File.WriteAllBytes(dir["served.png"], map);
            Assert.Equal(ImageFile.ReadPixels(dir["expected/probs/um_000000.png"]).Pixels, ImageFile.ReadPixels(dir["served.png"]).Pixels);
            Assert.Equal((301, 97), ImageFile.PeekSize(overlay));
            Assert.DoesNotContain("libtorch", maps);
            Assert.Contains("libonnxruntime.so", maps);
            Assert.Contains("ONNX Runtime CPUExecutionProvider", server.Log);
            Assert.Equal(0, server.Stop());
        }

        var refused = Seg.RunBuild(Path.Combine(app, "seg.dll"), noCache, "predict", "--model", checkpoint, "--input", dir["in"], "--out", dir["refused"]);
        Assert.Equal(2, refused.Exit);
        Assert.Contains("error: this seg was built without libtorch (-p:TorchBackend=none)", refused.Err);
        Assert.False(Directory.Exists(dir["refused/probs"]), "nothing is written");
    }
}
