using System.Text.Json;
using SegHelpers.Data;
using SegHelpers.Model;
using SegHelpers.Model.Weights;
using SegHelpers.Tests.Data;

namespace SegHelpers.Tests.Cli;

public class EvalCommandsTests
{
    static string Devkit(string name) => Path.Combine(AppContext.BaseDirectory, "Fixtures", "devkit", name);

    /// <summary>A tiny FCN-8s whose decoder is random rather than zero, so its maps vary from pixel to pixel.</summary>
    internal static string TinyCheckpoint(TempDir dir)
    {
        using var model = new Fcn(new FcnOptions("fcn8s", WidthDivisor: 16), seed: 2);
        using var generator = new TorchSharp.torch.Generator(2, TorchSharp.torch.CPU);
        using (TorchSharp.torch.no_grad())
            foreach (var p in model.Decoder.parameters())
                p.normal_(0, 0.1, generator);
        string file = dir["model.safetensors"];
        FcnCheckpoint.Save(model, file);
        return file;
    }

    [Fact]
    public void Eval_probs_prints_the_devkit_figures_per_category_and_urban()
    {
        var (exit, stdout, stderr) = Seg.Run("eval", "--data", Devkit("data_road"), "--probs", Devkit("probs"));

        Assert.True(exit == 0, stderr);
        var expected = JsonDocument.Parse(File.ReadAllText(Devkit("expected.json"))).RootElement;
        foreach (string category in new[] { "UM_ROAD", "UMM_ROAD", "UU_ROAD", "URBAN_ROAD" })
        {
            var row = stdout.Split('\n').Single(l => l.StartsWith(category + " "));
            double maxF = double.Parse(row.Split(' ', StringSplitOptions.RemoveEmptyEntries)[2], System.Globalization.CultureInfo.InvariantCulture);
            Assert.Equal(100 * expected.GetProperty(category).GetProperty("MaxF").GetDouble(), maxF, 2);
        }
    }

    [Fact]
    public void Eval_probs_honours_json_and_out_and_writes_metrics_json()
    {
        using var dir = new TempDir();

        var (exit, stdout, stderr) = Seg.Run("eval", "--data", Devkit("data_road"), "--probs", Devkit("probs"), "--json", "--out", dir["scores"]);

        Assert.True(exit == 0, stderr);
        var printed = JsonDocument.Parse(stdout).RootElement;
        Assert.Equal(File.ReadAllText(dir["scores/metrics.json"]).Trim(), stdout.Trim());
        var urban = printed.GetProperty("benchmark").EnumerateArray().Single(b => b.GetProperty("category").GetString() == "URBAN_ROAD");
        var expected = JsonDocument.Parse(File.ReadAllText(Devkit("expected.json"))).RootElement;
        Assert.Equal(expected.GetProperty("URBAN_ROAD").GetProperty("MaxF").GetDouble(), urban.GetProperty("max_f").GetDouble(), 6);
    }

    [Fact]
    public void An_output_folder_that_cannot_be_written_is_one_error_line_and_exit_two()
    {
        var (exit, stdout, stderr) = Seg.Run("synth", "--out", "/sys/seg-cannot-write", "--count", "1");

        Assert.Equal(2, exit);
        var lines = stderr.Trim().Split('\n');
        Assert.Single(lines);
        Assert.StartsWith("error: ", lines[0]);
        Assert.Contains("/sys/seg-cannot-write", lines[0]);
        Assert.DoesNotContain("   at ", stdout + stderr);
    }

    [Fact]
    public void Predict_writes_maps_masks_and_overlays_at_each_images_size_with_kitti_names()
    {
        using var dir = new TempDir();
        Kitti.Solid(dir["in/um_000007.png"], 1242, 375, (90, 90, 90));
        Kitti.Solid(dir["in/uu_000123.png"], 301, 97, (120, 100, 90));

        var (exit, _, stderr) = Seg.Run("predict", "--model", TinyCheckpoint(dir), "--input", dir["in"], "--out", dir["out"], "--kitti", "--overlay", "--size", "32x96");

        Assert.True(exit == 0, stderr);
        Assert.Equal((1242, 375), ImageFile.ReadSize(dir["out/probs/um_road_000007.png"]));
        Assert.Equal((301, 97), ImageFile.ReadSize(dir["out/probs/uu_road_000123.png"]));
        Assert.Equal((301, 97), ImageFile.ReadSize(dir["out/masks/uu_000123.png"]));
        Assert.Equal((1242, 375), ImageFile.ReadSize(dir["out/overlays/um_000007.png"]));
    }

    [Fact]
    public void Predict_with_kitti_names_refuses_a_file_not_named_like_kitti()
    {
        using var dir = new TempDir();
        Kitti.Solid(dir["in/frame1.png"], 64, 32, (90, 90, 90));

        var (exit, _, stderr) = Seg.Run("predict", "--model", TinyCheckpoint(dir), "--input", dir["in"], "--out", dir["out"], "--kitti");

        Assert.Equal(2, exit);
        Assert.Contains("frame1.png", stderr);
        Assert.False(Directory.Exists(dir["out/probs"]), "nothing is written before every name is checked");
    }

    [Fact]
    public void Predict_and_eval_take_device_and_say_where_they_ran_and_refuse_cuda_where_there_is_none()
    {
        using var dir = new TempDir();
        string data = Kitti.Synthetic(dir, count: 3, height: 40, width: 128);
        string model = TinyCheckpoint(dir);
        string image = Directory.GetFiles(Path.Combine(data, "training", "image_2"))[0];
        Assert.False(TorchSharp.torch.cuda.is_available(), "this test expects a machine without CUDA");

        var predicted = Seg.Run("predict", "--model", model, "--input", image, "--out", dir["out"], "--size", "32x96", "--device", "cpu");
        var evaluated = Seg.Run("eval", "--data", data, "--model", model, "--split", "all", "--size", "32x96", "--out", dir["eval"], "--device", "cpu");
        var predictCuda = Seg.Run("predict", "--model", model, "--input", image, "--out", dir["cuda"], "--size", "32x96", "--device", "cuda");
        var evalCuda = Seg.Run("eval", "--data", data, "--model", model, "--split", "all", "--size", "32x96", "--out", dir["cuda-eval"], "--device", "cuda:1");

        Assert.True(predicted.Exit == 0, predicted.Err);
        Assert.Contains("predicting 1 image(s) at 32×96 in fp32 on cpu", predicted.Err);
        Assert.True(evaluated.Exit == 0, evaluated.Err);
        Assert.Contains("evaluating 3 images at 32×96 in fp32 on cpu", evaluated.Err);
        Assert.Equal((2, "error: device cuda was asked for but CUDA is not available here; use --device cpu or auto"), (predictCuda.Exit, predictCuda.Err.Trim()));
        Assert.Equal((2, "error: device cuda:1 was asked for but CUDA is not available here; use --device cpu or auto"), (evalCuda.Exit, evalCuda.Err.Trim().Split('\n')[^1]));
        Assert.False(Directory.Exists(dir["cuda/probs"]), "nothing is written for a device that is not there");
    }

    [Fact]
    public void Eval_model_writes_metrics_json_and_a_map_per_image()
    {
        using var dir = new TempDir();
        string data = Kitti.Synthetic(dir, count: 5, height: 40, width: 128);

        var (exit, stdout, stderr) = Seg.Run("eval", "--data", data, "--model", TinyCheckpoint(dir), "--split", "all", "--size", "32x96", "--out", dir["eval"]);

        Assert.True(exit == 0, stderr);
        Assert.Contains("URBAN_ROAD", stdout);
        var metrics = JsonDocument.Parse(File.ReadAllText(dir["eval/metrics.json"])).RootElement;
        Assert.Equal(5, metrics.GetProperty("images").GetArrayLength());
        Assert.Equal(5, Directory.GetFiles(dir["eval/probs"]).Length);
        var map = ImageFile.ReadRgb(Directory.GetFiles(dir["eval/probs"])[0]);
        Assert.True(map.Pixels.Distinct().Count() > 10, "the maps carry the model's varying probabilities");
        // Scoring the written maps again gives the same figures: the maps are what the model's metrics were computed from.
        var (again, rescored, err) = Seg.Run("eval", "--data", data, "--probs", dir["eval/probs"], "--json", "--out", dir["rescored"]);
        Assert.True(again == 0, err);
        var second = JsonDocument.Parse(rescored).RootElement;
        Assert.Equal(metrics.GetProperty("road_iou").GetDouble(), second.GetProperty("road_iou").GetDouble(), 9);
        Assert.Equal(metrics.GetProperty("benchmark")[3].GetProperty("max_f").GetDouble(), second.GetProperty("benchmark")[3].GetProperty("max_f").GetDouble(), 9);
    }
}
