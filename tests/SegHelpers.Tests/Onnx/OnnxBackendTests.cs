using System.Text.Json;
using Google.Protobuf;
using SegHelpers.Data;
using SegHelpers.Evaluation;
using SegHelpers.Serving;
using SegHelpers.Tests.Cli;
using SegHelpers.Tests.Data;

namespace SegHelpers.Tests.Onnx;

/// <summary><c>--backend onnxruntime</c> for seg predict, eval and serve: the libtorch backend's files and figures, and its bad-input handling.</summary>
public class OnnxBackendTests
{
    /// <summary>A tiny checkpoint and its ONNX export, written through the CLI.</summary>
    static (string Checkpoint, string Onnx) Exported(TempDir dir)
    {
        string checkpoint = EvalCommandsTests.TinyCheckpoint(dir);
        var (exit, _, stderr) = Seg.Run("weights", "export", checkpoint, "--out", dir["model.onnx"], "--format", "onnx");
        Assert.True(exit == 0, stderr);
        return (checkpoint, dir["model.onnx"]);
    }

    /// <summary>Two 8-bit maps agree: no value more than one level apart, and fewer than 0.1 % of them one level apart.</summary>
    static void SameMap(string expected, string actual)
    {
        var a = ImageFile.ReadPixels(expected);
        var b = ImageFile.ReadPixels(actual);
        Assert.Equal((a.Width, a.Height), (b.Width, b.Height));
        int off = 0;
        for (int i = 0; i < a.Pixels.Length; i++)
        {
            int d = Math.Abs(a.Pixels[i] - b.Pixels[i]);
            Assert.True(d <= 1, $"{Path.GetFileName(actual)}: value {i} is {b.Pixels[i]} in ONNX Runtime and {a.Pixels[i]} in libtorch");
            off += d;
        }
        Assert.True(off <= a.Pixels.Length / 1000, $"{Path.GetFileName(actual)}: {off} of {a.Pixels.Length} values one level apart");
    }

    [Fact]
    public void Predict_on_onnx_runtime_writes_libtorchs_maps_masks_and_overlays_and_takes_the_backend_from_the_file()
    {
        using var dir = new TempDir();
        var (checkpoint, onnx) = Exported(dir);
        Kitti.Solid(dir["in/um_000007.png"], 301, 97, (90, 90, 90));
        File.Copy(Directory.GetFiles(Kitti.Synthetic(dir, count: 3, height: 80, width: 256) + "/training/image_2")[0], dir["in/uu_000001.png"]);

        var torch = Seg.Run("predict", "--model", checkpoint, "--input", dir["in"], "--out", dir["torch"], "--size", "32x96", "--overlay", "--flip");
        var ort = Seg.Run("predict", "--model", onnx, "--input", dir["in"], "--out", dir["ort"], "--size", "32x96", "--overlay", "--flip", "--backend", "onnxruntime");
        var implied = Seg.Run("predict", "--model", onnx, "--input", dir["in"], "--out", dir["implied"], "--size", "32x96");

        Assert.True(torch.Exit == 0, torch.Err);
        Assert.True(ort.Exit == 0, ort.Err);
        Assert.True(implied.Exit == 0, implied.Err);
        foreach (string name in new[] { "um_000007.png", "uu_000001.png" })
        {
            SameMap(dir[$"torch/probs/{name}"], dir[$"ort/probs/{name}"]);
            SameMap(dir[$"torch/masks/{name}"], dir[$"ort/masks/{name}"]);
            Assert.Equal(ImageFile.ReadSize(dir[$"torch/overlays/{name}"]), ImageFile.ReadSize(dir[$"ort/overlays/{name}"]));
        }
        Assert.True(File.Exists(dir["implied/probs/uu_000001.png"]), implied.Err);
        Assert.Contains("on cpu", ort.Err);
    }

    [Fact]
    public void A_run_exported_to_onnx_predicts_at_its_training_size_by_default()
    {
        using var dir = new TempDir();
        string data = Kitti.Synthetic(dir, count: 8, height: 40, width: 128);
        var trained = Seg.Run("train", "--data", data, "--out", dir["run"], "--epochs", "1", "--size", "32x96", "--width-divisor", "4", "--batch-size", "2", "--device", "cpu");
        Assert.True(trained.Exit == 0, trained.Err);
        var exported = Seg.Run("weights", "export", dir["run/best.safetensors"], "--out", dir["run.onnx"], "--format", "onnx");
        Assert.True(exported.Exit == 0, exported.Err);

        var (exit, _, stderr) = Seg.Run("predict", "--model", dir["run.onnx"], "--input", Path.Combine(data, "testing", "image_2"), "--out", dir["out"]);

        Assert.True(exit == 0, stderr);
        Assert.Contains("at 32×96 in fp32 on cpu", stderr);
    }

    [Fact]
    public void Eval_on_onnx_runtime_gives_libtorchs_figures()
    {
        using var dir = new TempDir();
        var (checkpoint, onnx) = Exported(dir);
        string data = Kitti.Synthetic(dir, count: 5, height: 40, width: 128);

        var torch = Seg.Run("eval", "--data", data, "--model", checkpoint, "--split", "all", "--size", "32x96", "--out", dir["torch"], "--json");
        var ort = Seg.Run("eval", "--data", data, "--model", onnx, "--split", "all", "--size", "32x96", "--out", dir["ort"], "--json", "--backend", "onnxruntime");

        Assert.True(torch.Exit == 0, torch.Err);
        Assert.True(ort.Exit == 0, ort.Err);
        double Figure(string json, string name) => JsonDocument.Parse(json).RootElement.GetProperty(name).GetDouble();
        Assert.Equal(Figure(torch.Out, "road_iou"), Figure(ort.Out, "road_iou"), 3);
        Assert.Equal(Figure(torch.Out, "pixel_accuracy"), Figure(ort.Out, "pixel_accuracy"), 3);
        Assert.True(Figure(torch.Out, "road_iou") is > 0.01 and < 0.99, "the tiny model's maps are not flat");
    }

    [Fact]
    public async Task Serve_on_onnx_runtime_answers_the_map_seg_predict_writes()
    {
        using var dir = new TempDir();
        var (checkpoint, onnx) = Exported(dir);
        string image = Directory.GetFiles(Kitti.Synthetic(dir, count: 3, height: 80, width: 256) + "/training/image_2")[0];
        var predicted = Seg.Run("predict", "--model", checkpoint, "--input", image, "--out", dir["torch"], "--size", "32x96", "--batch-size", "1");
        Assert.True(predicted.Exit == 0, predicted.Err);

        using var server = await ServerProcess.StartAsync(onnx, ["--size", "32x96", "--device", "cpu"]);
        byte[] map = await server.InvokeAsync(image);
        string summary = System.Text.Encoding.UTF8.GetString(await server.InvokeAsync(image, accept: "application/json"));
        int exit = server.Stop();

        File.WriteAllBytes(dir["served.png"], map);
        SameMap(dir[$"torch/probs/{Path.GetFileName(image)}"], dir["served.png"]);
        Assert.Contains("ONNX Runtime CPUExecutionProvider", summary);
        Assert.DoesNotContain(dir.Path, summary);
        Assert.Equal(0, exit);
        Assert.Contains("ONNX Runtime CPUExecutionProvider", server.Log);
    }

    /// <summary>seg serve's default backend: ONNX Runtime for fp32 on the CPU, libtorch for bf16 and CUDA, ONNX Runtime for any .onnx.</summary>
    [Fact]
    public void Serving_takes_onnx_runtime_for_fp32_on_the_cpu_and_libtorch_for_bf16_or_cuda()
    {
        using var dir = new TempDir();
        var (checkpoint, onnx) = Exported(dir);
        var choices = new (string Model, string Precision, string Device, string Expected)[]
        {
            (checkpoint, "fp32", "cpu", "onnxruntime"),
            (checkpoint, "fp32", "auto", "onnxruntime"),
            (checkpoint, "bf16", "cpu", "libtorch"),
            (checkpoint, "fp32", "cuda", "libtorch"),
            (checkpoint, "fp32", "cuda:1", "libtorch"),
            (onnx, "fp32", "cuda", "onnxruntime"),
            (dir.Path, "fp32", "cpu", "onnxruntime"),
        };
        foreach (var (model, precision, device, expected) in choices)
            Assert.True(expected == RoadPredictor.ServingBackend(model, new PredictionOptions(Precision: precision, Device: device)),
                $"{Path.GetFileName(model)} {precision} {device}: expected {expected}");
    }

    /// <summary>A one-node ONNX model: Identity from <paramref name="input"/> to <c>logits</c>, at <paramref name="opset"/>.</summary>
    static void WriteIdentity(string path, string input, long opset)
    {
        var graph = new global::Onnx.GraphProto { Name = "identity" };
        var node = new global::Onnx.NodeProto { OpType = "Identity" };
        node.Input.Add(input);
        node.Output.Add("logits");
        graph.Node.Add(node);
        foreach (string name in new[] { input, "logits" })
        {
            var shape = new global::Onnx.TensorShapeProto();
            shape.Dim.Add(new global::Onnx.TensorShapeProto.Types.Dimension { DimValue = 4 });
            var value = new global::Onnx.ValueInfoProto { Name = name, Type = new global::Onnx.TypeProto { TensorType = new global::Onnx.TypeProto.Types.Tensor { ElemType = 1, Shape = shape } } };
            (name == input ? graph.Input : graph.Output).Add(value);
        }
        var model = new global::Onnx.ModelProto { IrVersion = 8, Graph = graph };
        model.OpsetImport.Add(new global::Onnx.OperatorSetIdProto { Domain = "", Version = opset });
        File.WriteAllBytes(path, model.ToByteArray());
    }

    [Fact]
    public void A_file_that_is_not_onnx_a_model_with_another_input_an_unknown_opset_a_folder_and_bf16_are_each_one_line_and_exit_two()
    {
        using var dir = new TempDir();
        Kitti.Solid(dir["in/um_000001.png"], 64, 32, (90, 90, 90));
        File.WriteAllText(dir["garbage.onnx"], "not a protobuf at all");
        WriteIdentity(dir["other-input.onnx"], "x", 17);
        WriteIdentity(dir["future-opset.onnx"], "image", 999);
        var (_, onnx) = Exported(dir);
        Directory.CreateDirectory(dir["run"]);

        var cases = new (string[] Args, string Expected)[]
        {
            (["--model", dir["garbage.onnx"]], "is not an ONNX model this ONNX Runtime"),
            (["--model", dir["other-input.onnx"]], "takes x [4] and gives logits, not an input 'image' [N, 3, H, W] and an output 'logits'"),
            (["--model", dir["future-opset.onnx"]], "is not an ONNX model this ONNX Runtime"),
            (["--model", dir["run"], "--backend", "onnxruntime"], "is a folder with neither a .onnx file nor a checkpoint (best.safetensors)"),
            (["--model", onnx, "--precision", "bf16"], "--precision bf16 is for the libtorch backend"),
        };
        foreach (var (args, expected) in cases)
        {
            var (exit, _, stderr) = Seg.Run(["predict", "--input", dir["in"], "--out", dir["out"], .. args]);
            var lines = stderr.Trim().Split('\n');
            Assert.True(exit == 2 && lines.Length == 1 && lines[0].StartsWith("error: ", StringComparison.Ordinal) && lines[0].Contains(expected, StringComparison.Ordinal),
                $"{string.Join(' ', args)}: exit {exit}, {stderr}");
        }
        Assert.False(Directory.Exists(dir["out/probs"]));
    }
}
