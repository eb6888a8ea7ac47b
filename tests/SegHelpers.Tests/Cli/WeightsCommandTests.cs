using SegHelpers.Model;
using SegHelpers.Model.Weights;
using SegHelpers.Tests.Model;
using static TorchSharp.torch;

namespace SegHelpers.Tests.Cli;

public class WeightsCommandTests
{
    [Fact]
    public void Inspect_lists_every_tensor_with_dtype_and_shape_and_the_fitting_width()
    {
        string file = TorchFixtures.File("vgg16_w64_torchvision.pth");

        var (exit, stdout, _) = Seg.Run("weights", "inspect", file);

        Assert.Equal(0, exit);
        var weights = StateDict.Read(file);
        foreach (var tensor in weights)
            Assert.Matches($@"(?m)^{System.Text.RegularExpressions.Regex.Escape(tensor.Name)}\s+float32\s+\[{string.Join(", ", tensor.Shape)}\]$", stdout);
        Assert.Contains("pytorch-zip, 32 tensors", stdout);
        Assert.Contains("torchvision VGG16; fits an FCN with --width-divisor 64", stdout);
    }

    [Theory]
    [InlineData("malicious_system.pth", "posix.system")]
    [InlineData("malicious_eval_legacy.pth", "builtins.eval")]
    public void Inspect_refuses_a_malicious_pickle_with_exit_two_and_one_line(string file, string global)
    {
        var (exit, stdout, stderr) = Seg.Run("weights", "inspect", TorchFixtures.File(file));

        Assert.Equal(2, exit);
        Assert.Equal("", stdout);
        Assert.Single(stderr.Trim().Split('\n'));
        Assert.StartsWith("error: ", stderr);
        Assert.Contains(global, stderr);
    }

    [Fact]
    public void Inspect_of_a_corrupt_file_exits_two()
    {
        using var dir = new TempDir();
        var bytes = File.ReadAllBytes(TorchFixtures.File("vgg16_w64_torchvision.pth"));
        File.WriteAllBytes(dir["cut.pth"], bytes[..(bytes.Length / 3)]);

        var (exit, _, stderr) = Seg.Run("weights", "inspect", dir["cut.pth"]);

        Assert.Equal(2, exit);
        Assert.Contains("cut.pth: is not a valid pytorch-zip file", stderr);
    }

    [Fact]
    public void Export_keeps_the_model_and_drops_training_state()
    {
        using var scope = NewDisposeScope();
        using var dir = new TempDir();
        using var model = Fcn.Create("fcn32s", widthDivisor: 64);
        FcnCheckpoint.Save(model, dir["last.safetensors"], extra: [("train.optimizer.step", tensor(5L))]);

        var (exit, stdout, _) = Seg.Run("weights", "export", dir["last.safetensors"], "--out", dir["export/model.safetensors"]);

        Assert.Equal(0, exit);
        Assert.Contains($"fcn32s, {model.ParameterCount():N0} parameters", stdout);
        var exported = StateDict.Read(dir["export/model.safetensors"]);
        Assert.Equal(model.state_dict().Keys.Order(), exported.Select(t => t.Name).Order());
        Assert.True(exported.Find("encoder.fc6.weight")!.ToTensor().Same(model.state_dict()["encoder.fc6.weight"]));
    }

    [Fact]
    public void Export_format_onnx_writes_a_model_onnx_runtime_runs_with_the_runs_metadata()
    {
        using var dir = new TempDir();
        string checkpoint = EvalCommandsTests.TinyCheckpoint(dir);

        var (exit, stdout, stderr) = Seg.Run("weights", "export", checkpoint, "--out", dir["model.onnx"], "--format", "onnx");
        var refused = Seg.Run("weights", "export", checkpoint, "--out", dir["model.tflite"], "--format", "tflite");

        Assert.True(exit == 0, stderr);
        Assert.Matches(@"^wrote .*model\.onnx \(fcn8s, [0-9,]+ parameters, ONNX opset 17, [0-9.]+ MB\)", stdout.Trim());
        using var session = new Microsoft.ML.OnnxRuntime.InferenceSession(dir["model.onnx"]);
        Assert.Equal(["logits", "road"], session.OutputMetadata.Keys.Order());
        Assert.Equal("model.safetensors", session.ModelMetadata.CustomMetadataMap["seg.source"]);
        Assert.Equal("16", session.ModelMetadata.CustomMetadataMap["seg.width_divisor"]);
        Assert.NotEqual(0, refused.Exit);
        Assert.Contains("tflite", refused.Err);
        Assert.False(File.Exists(dir["model.tflite"]));
    }

    [Fact]
    public void Model_summary_with_weights_reports_what_the_file_filled()
    {
        var (exit, stdout, _) = Seg.Run("model", "summary", "--width-divisor", "64", "--height", "64", "--width", "64",
            "--weights", TorchFixtures.File("vgg16_w64_torchvision_legacy.pth"));

        Assert.Equal(0, exit);
        Assert.Contains("loaded 30 of 39 tensors", stdout);
        Assert.Contains("kept as initialised: decoder.score_fr", stdout);
    }
}
