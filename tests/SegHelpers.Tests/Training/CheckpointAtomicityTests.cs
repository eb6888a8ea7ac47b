using SegHelpers.Model;
using SegHelpers.Model.Weights;
using static TorchSharp.torch;

namespace SegHelpers.Tests.Training;

public class CheckpointAtomicityTests
{
    [Fact]
    public void A_write_that_dies_midway_leaves_the_previous_checkpoint_loadable_and_no_temp_file()
    {
        using var scope = NewDisposeScope();
        using var dir = new TempDir();
        using var model = Fcn.Create("fcn32s", widthDivisor: 64);
        string path = dir["last.safetensors"];
        FcnCheckpoint.Save(model, path, new Dictionary<string, string> { ["seg.epoch"] = "1" });
        FcnCheckpoint.Save(model, dir["next/last.safetensors"], new Dictionary<string, string> { ["seg.epoch"] = "2" });
        var before = File.ReadAllBytes(path);
        var next = File.ReadAllBytes(dir["next/last.safetensors"]);

        Assert.Throws<IOException>(() => AtomicFile.Write(path, stream =>
        {
            stream.Write(next.AsSpan(0, next.Length / 2));
            throw new IOException("process killed");
        }));

        Assert.Equal(before, File.ReadAllBytes(path));
        Assert.Equal(["last.safetensors"], Directory.GetFiles(dir.Path).Select(Path.GetFileName));
        var (loaded, file) = FcnCheckpoint.Load(path);
        loaded.Dispose();
        Assert.Equal("1", file.Metadata["seg.epoch"]);
    }
}
