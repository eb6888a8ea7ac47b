using System.Diagnostics;
using Microsoft.ML.OnnxRuntime;
using SegHelpers.Data;
using SegHelpers.Model;
using SegHelpers.Onnx;
using SegHelpers.Tests.Downloads;
using static TorchSharp.torch;

namespace SegHelpers.Tests.Onnx;

/// <summary>
/// The ONNX export read by readers that share no code with it: ONNX Runtime runs it against TorchSharp's own forward pass, and
/// Debian's python3-onnx checks the file and infers its shapes.
/// </summary>
public class OnnxExportTests(Xunit.Abstractions.ITestOutputHelper output)
{
    /// <summary>
    /// A model whose score layers have random weights rather than zero (zero biases; the upsamplers stay bilinear), scaled so that its logits reach
    /// about ±10 as a trained model's do, and its road maps vary from pixel to pixel.
    /// </summary>
    static Fcn RandomModel(string variant, int divisor, int seed)
    {
        var model = new Fcn(new FcnOptions(variant, WidthDivisor: divisor), seed);
        using var generator = new Generator((ulong)seed, CPU);
        using (no_grad())
            foreach (var (name, p) in model.Decoder.named_parameters().Where(p => p.name.StartsWith("score", StringComparison.Ordinal) && p.name.EndsWith(".weight", StringComparison.Ordinal)))
                p.normal_(0, ScoreStd, generator);
        model.eval();
        return model;
    }

    const double ScoreStd = 1;

    sealed record Compared(double MaxLogitError, int MaskDifferences, int NearThreshold, long Pixels, double MaxLogit, double RoadShare);

    /// <summary>Both runtimes on <paramref name="image"/> fed at <paramref name="height"/>×<paramref name="width"/> (its own size by default).</summary>
    static Compared Compare(Fcn model, string onnxPath, RgbImage image, int height = 0, int width = 0)
    {
        using var scope = NewDisposeScope();
        (height, width) = height > 0 ? (height, width) : (image.Height, image.Width);
        var input = Presets.EvalInput(image, height, width).unsqueeze(0);
        Tensor expected;
        using (no_grad())
            expected = model.call(input);
        var expectedRoad = expected.softmax(1)[.., 1..2];

        using var session = new InferenceSession(onnxPath, new SessionOptions { IntraOpNumThreads = Environment.ProcessorCount });
        float[] data = input.contiguous().data<float>().ToArray();
        using var value = OrtValue.CreateTensorValueFromMemory(data, [1, 3, height, width]);
        using var runOptions = new RunOptions();
        using var outputs = session.Run(runOptions, ["image"], [value], ["logits", "road"]);
        Assert.Equal([1L, 2, height, width], outputs[0].GetTensorTypeAndShape().Shape);
        var logits = tensor(outputs[0].GetTensorDataAsSpan<float>().ToArray()).reshape(expected.shape);
        var road = tensor(outputs[1].GetTensorDataAsSpan<float>().ToArray()).reshape(expectedRoad.shape);

        double maxError = (logits - expected).abs().max().item<float>();
        var differ = (road >= 0.5f).ne(expectedRoad >= 0.5f);
        var near = (expectedRoad - 0.5f).abs() <= 1e-4f;
        int differences = (int)differ.sum().item<long>();
        int unexplained = (int)differ.logical_and(near.logical_not()).sum().item<long>();
        double scale = expected.abs().max().item<float>(), share = (expectedRoad >= 0.5f).to(ScalarType.Float32).mean().item<float>();
        return new Compared(maxError, unexplained, differences - unexplained, road.numel(), scale, share);
    }

    [KittiSampleFact]
    public void Onnx_runtime_gives_torchsharps_logits_and_road_masks_on_real_images_at_full_size_for_every_variant_and_two_widths()
    {
        using var dir = new TempDir();
        var images = Directory.GetFiles(Path.Combine(KittiSampleFactAttribute.Folder, "training", "image_2")).Order().Take(2).Select(ImageFile.ReadRgb).ToList();
        var report = new List<string>();
        int seed = 5;
        foreach (int divisor in new[] { 1, 4 })
            foreach (string variant in FcnOptions.Variants)
            {
                using var model = RandomModel(variant, divisor, seed++);
                string file = dir[$"{variant}-{divisor}.onnx"];
                OnnxExport.Write(model, file);
                foreach (var image in images)
                {
                    var c = Compare(model, file, image);
                    report.Add($"{variant} ÷{divisor} {image.Width}×{image.Height}: logits up to {c.MaxLogit:g3}, road at {100 * c.RoadShare:F0} % of pixels; max |Δlogit| {c.MaxLogitError:g3}, masks differ at {c.MaskDifferences} pixels (+{c.NearThreshold} within 1e-4 of 0.5) of {c.Pixels}");
                    Assert.True(c.MaxLogitError <= 1e-4 && c.MaskDifferences == 0, string.Join("\n", report));
                    Assert.True(c.MaxLogit > 5, $"the random model's logits are too small for the tolerance to mean anything: {report[^1]}");
                }
                File.Delete(file);
            }
        foreach (string line in report)
            output.WriteLine(line);
    }

    [KittiSampleFact]
    public void A_model_trained_on_the_real_sample_gives_the_same_logits_and_road_masks_in_onnx_runtime()
    {
        using var dir = new TempDir();
        var result = SegHelpers.Training.Trainer.Train(KittiSampleFactAttribute.Folder, dir["run"], new SegHelpers.Training.TrainingOptions(
            Epochs: 12, BatchSize: 4, Height: 96, Width: 320, LearningRate: 3e-4, WidthDivisor: 4, Device: "cpu"));
        var (model, _) = SegHelpers.Model.Weights.FcnCheckpoint.Load(result.Run.BestCheckpoint);
        using (model)
        {
            model.eval();
            OnnxExport.Write(model, dir["trained.onnx"]);
            var validation = result.Run.ReadInfo().Split(KittiRoad.Open(KittiSampleFactAttribute.Folder)).Validation;
            double roadShare = 0;
            foreach (var sample in validation)
            {
                var c = Compare(model, dir["trained.onnx"], ImageFile.ReadRgb(sample.ImagePath), 96, 320); // the size it was trained at, as RoadPredictor feeds it
                output.WriteLine($"{sample.Id}: logits up to {c.MaxLogit:g3}, road at {100 * c.RoadShare:F0} %; max |Δlogit| {c.MaxLogitError:g3}, masks differ at {c.MaskDifferences} (+{c.NearThreshold} within 1e-4 of 0.5) of {c.Pixels}");
                Assert.True(c.MaxLogitError <= 1e-4 && c.MaskDifferences == 0, $"{sample.Id}: {c}");
                roadShare += c.RoadShare / validation.Count;
            }
            Assert.True(roadShare is > 0.01 and < 0.99, $"the trained model's maps are flat: road at {100 * roadShare:F1} % of the validation pixels");
        }
    }

    [Fact]
    public void Any_input_size_runs_with_the_padding_and_crop_computed_in_the_graph()
    {
        using var dir = new TempDir();
        using var model = RandomModel("fcn8s", 16, 3);
        string file = dir["fcn8s.onnx"];
        OnnxExport.Write(model, file, new OnnxExportOptions(Metadata: new Dictionary<string, string> { ["seg.source_run"] = "runs/r1" }));

        foreach (var (w, h) in new[] { (301, 97), (64, 32), (1242, 375), (33, 65) })
        {
            var image = SyntheticRoads.Render(w + h, RoadCategory.Uu, w, h).Image;
            var c = Compare(model, file, image);
            Assert.True(c.MaxLogitError <= 1e-4 && c.MaskDifferences == 0, $"{w}×{h}: {c}");
            Assert.True(c.MaxLogit > 3, $"{w}×{h}: the random model's logits are too small for the tolerance to mean anything: {c}");
        }
        using var session = new InferenceSession(file);
        Assert.Equal("runs/r1", session.ModelMetadata.CustomMetadataMap["seg.source_run"]);
        Assert.Equal("non-road,road", session.ModelMetadata.CustomMetadataMap["seg.classes"]);
        Assert.Equal("0.485,0.456,0.406", session.ModelMetadata.CustomMetadataMap["seg.mean"]);
        Assert.Equal(["N", "3", "H", "W"], session.InputMetadata["image"].SymbolicDimensions.Zip(session.InputMetadata["image"].Dimensions, (s, d) => d < 0 ? s : $"{d}"));
    }

    [DebianOnnxFact]
    public void Pythons_onnx_checker_passes_the_file_in_full_and_its_shape_inference_agrees_with_the_declared_outputs()
    {
        string python = DebianOnnxFactAttribute.Python;
        using var dir = new TempDir();
        using var model = RandomModel("fcn16s", 8, 4);
        string file = dir["fcn16s.onnx"];
        OnnxExport.Write(model, file);
        const string script = """
            import sys, onnx
            from onnx import checker, shape_inference
            model = onnx.load(sys.argv[1])
            checker.check_model(model, full_check=True)
            inferred = shape_inference.infer_shapes(model, check_type=True, strict_mode=True)
            def dims(v): return [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim]
            values = {v.name: v for v in list(inferred.graph.value_info) + list(inferred.graph.output)}
            for out in model.graph.output:
                print(out.name, dims(out), dims(values[out.name]), "opset", model.opset_import[0].version)
            """;
        File.WriteAllText(dir["check.py"], script);

        var (exit, output) = Run(python, [dir["check.py"], file]);

        Assert.True(exit == 0, output);
        Assert.Contains("logits ['N', 2, 'H', 'W'] ['N', 2, 'H', 'W'] opset 17", output);
        Assert.Contains("road ['N', 1, 'H', 'W'] ['N', 1, 'H', 'W'] opset 17", output);
    }

    internal static (int Exit, string Output) Run(string file, string[] args)
    {
        var start = new ProcessStartInfo(file, args) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        string stdout = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, stdout + stderr.GetAwaiter().GetResult());
    }
}

/// <summary>A fact that runs where Debian's python3-onnx is installed, and says how to install it otherwise.</summary>
sealed class DebianOnnxFactAttribute : FactAttribute
{
    public const string Python = "/usr/bin/python3";

    public DebianOnnxFactAttribute()
    {
        if (!File.Exists(Python) || OnnxExportTests.Run(Python, ["-c", "import onnx"]).Exit != 0)
            Skip = $"Debian's python3-onnx is not installed for {Python} (`apt-get install python3-onnx`; test.sh installs it as root)";
    }
}
