using SegHelpers.Tests.Data;
using SegHelpers.Training;

namespace SegHelpers.Tests.Cli;

/// <summary><c>seg train</c> options that reach beyond one run: resuming with changes, ImageNet weights by name (a class of its own so it runs beside TrainCommandTests).</summary>
public class TrainCommandOptionTests
{
    static readonly string[] Tiny = ["--size", "32x96", "--width-divisor", "4", "--batch-size", "2"];

    [Fact]
    public void Resume_applies_more_epochs_and_refuses_options_that_would_make_another_run_by_name()
    {
        using var dir = new TempDir();
        string data = Kitti.Synthetic(dir, count: 8, height: 48, width: 160);
        string run = dir["run"];
        Assert.Equal(0, Seg.Run(["train", "--data", data, "--out", run, "--epochs", "1", .. Tiny]).Exit);

        var refused = Seg.Run("train", "--resume", run, "--lr", "0.1", "--size", "64x192", "--epochs", "3");
        var (exit, stdout, stderr) = Seg.Run("train", "--resume", run, "--epochs", "2", "--device", "cpu");
        var fewer = Seg.Run("train", "--resume", run, "--epochs", "1");

        Assert.Equal(2, refused.Exit);
        Assert.Equal($"error: --resume continues {run} with its own options; --size, --lr cannot change without making it another run (start one with --out). " +
                     "A resume may change --epochs, --device, --checkpoint-every, --early-stopping, --precision", refused.Err.Trim());
        Assert.Equal(2, fewer.Exit);
        Assert.StartsWith("error: --epochs 1 is fewer than the 2 epochs", fewer.Err.Trim());
        Assert.True(exit == 0, stderr);
        Assert.Contains("resumed", stdout);
        Assert.Equal([1, 2], new RunFolder(run).ReadMetrics().Select(m => m.Epoch));
        Assert.Equal(2, new RunFolder(run).ReadInfo().Options.Epochs);
        Assert.Equal(0.0001, new RunFolder(run).ReadInfo().Options.LearningRate);
    }


    [Fact]
    public void Encoder_weights_imagenet_fetches_the_file_into_the_cache_once_and_says_where_it_came_from()
    {
        using var server = new Downloads.LoopbackServer();
        using var dir = new TempDir();
        string data = Kitti.Synthetic(dir, count: 8, height: 48, width: 160);
        using (var model = new SegHelpers.Model.Fcn(new SegHelpers.Model.FcnOptions("fcn8s", WidthDivisor: 4), seed: 9))
            SegHelpers.Model.Weights.FcnCheckpoint.Save(model, dir["weights.safetensors"]);
        byte[] bytes = File.ReadAllBytes(dir["weights.safetensors"]);
        string name = $"vgg16-{Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(bytes))[..8]}.safetensors";
        server.Serve(name, new Downloads.Served(bytes));
        var environment = new Dictionary<string, string> { ["SEG_VGG16_URL"] = server.Url(name).ToString(), ["SEG_WEIGHTS_CACHE"] = dir["cache"] };

        var (exit, stdout, stderr) = Seg.Run(environment, ["train", "--data", data, "--out", dir["run1"], "--epochs", "1", "--encoder-weights", "imagenet", .. Tiny]);
        var second = Seg.Run(environment, ["train", "--data", data, "--out", dir["run2"], "--epochs", "1", "--encoder-weights", "imagenet", .. Tiny]);

        Assert.True(exit == 0, stderr);
        Assert.Contains($"(from {dir["cache"]}/{name}, the imagenet weights)", stdout);
        Assert.Equal(bytes, File.ReadAllBytes(Path.Combine(dir["cache"], name)));
        Assert.True(second.Exit == 0, second.Err);
        Assert.Equal(1, server.Requests(name));
        Assert.Equal("imagenet", new RunFolder(dir["run1"]).ReadInfo().Options.EncoderWeights);
    }
}
