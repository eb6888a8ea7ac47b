using SegHelpers.Model.Weights;
using TorchSharp;
using static TorchSharp.torch;
using static SegHelpers.Tests.Model.TorchFixtures;

namespace SegHelpers.Tests.Model;

public class WeightFileTests
{
    static readonly int[] ConvIndices = [0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28];

    [Theory]
    [InlineData("vgg16_w64_torchvision.pth", "pytorch-zip")]
    [InlineData("vgg16_w64_torchvision_legacy.pth", "pytorch-legacy")]
    public void Reads_a_torchvision_vgg16_state_dict_in_both_torch_save_formats(string file, string format)
    {
        var weights = StateDict.Read(File(file));

        Assert.Equal(format, weights.Format);
        var expected = ConvIndices.Select(i => $"features.{i}.")
            .Concat(["classifier.0.", "classifier.3.", "classifier.6."])
            .SelectMany(p => new[] { p + "weight", p + "bias" });
        Assert.Equal(expected, weights.Select(t => t.Name));
        Assert.All(weights, t => Assert.Equal(ScalarType.Float32, t.DType));
        Assert.Equal(new long[] { 1, 3, 3, 3 }, weights.Find("features.0.weight")!.Shape);
        Assert.Equal(new long[] { 64, 8 * 7 * 7 }, weights.Find("classifier.0.weight")!.Shape);
        Assert.Empty(weights.Skipped);
    }

    [Fact]
    public void Zip_and_legacy_files_hold_identical_tensors()
    {
        using var scope = NewDisposeScope();
        var zip = StateDict.Read(File("vgg16_w64_torchvision.pth"));
        var legacy = StateDict.Read(File("vgg16_w64_torchvision_legacy.pth"));

        Assert.Equal(zip.Count, legacy.Count);
        foreach (var tensor in zip)
            Assert.True(tensor.ToTensor().Same(legacy.Find(tensor.Name)!.ToTensor()), tensor.Name);
        Assert.True(zip.Find("classifier.6.bias")!.ToTensor().abs().sum().item<float>() > 0);
    }

    [Fact]
    public void Strided_and_offset_views_come_out_in_their_logical_order()
    {
        using var scope = NewDisposeScope();
        var views = StateDict.Read(File("views.pth"));

        var transposed = views.Find("transposed")!.ToTensor();
        var window = views.Find("window")!.ToTensor();

        Assert.True(transposed.Same(arange(12, dtype: ScalarType.Float32).view(3, 4).t()));
        Assert.True(window.Same(arange(3, 7, dtype: ScalarType.Int64)));
        Assert.Equal(ScalarType.Int64, views.Find("base")!.DType);
    }

    [Fact]
    public void A_wrapped_checkpoint_is_unwrapped_and_its_other_entries_reported()
    {
        var weights = StateDict.Read(File("fcn8s_w64_wrapped.pth"));

        Assert.Equal("state_dict", weights.Unwrapped);
        Assert.Contains("encoder.fc6.weight", weights.Select(t => t.Name));
        Assert.All(weights, t => Assert.DoesNotContain("state_dict", t.Name));
    }

    [Theory]
    [InlineData("malicious_system.pth", "posix.system")]
    [InlineData("malicious_eval_legacy.pth", "builtins.eval")]
    public void A_pickle_that_would_run_code_is_refused_without_running_it(string file, string global)
    {
        const string marker = "/tmp/seghelpers-pickle-ran";
        System.IO.File.Delete(marker);

        var error = Assert.Throws<BadInputException>(() => StateDict.Read(File(file)));

        Assert.Contains(file, error.Message);
        Assert.Contains($"'{global}'", error.Message);
        Assert.Contains("malicious", error.Fix);
        Assert.False(System.IO.File.Exists(marker));
    }

    [Theory]
    [InlineData("vgg16_w64_torchvision.pth", 0.5)]
    [InlineData("vgg16_w64_torchvision_legacy.pth", 0.5)]
    [InlineData("vgg16_w64_torchvision_legacy.pth", 0.999)]
    [InlineData("fcn8s_w64.safetensors", 0.5)]
    [InlineData("fcn8s_w64.safetensors", 0.0001)]
    public void A_truncated_file_is_a_clear_error_naming_it(string file, double keep)
    {
        using var dir = new TempDir();
        var bytes = System.IO.File.ReadAllBytes(File(file));
        string path = dir["cut-" + file];
        System.IO.File.WriteAllBytes(path, bytes[..Math.Max(16, (int)(bytes.Length * keep))]);

        var error = Assert.Throws<BadInputException>(() => StateDict.Read(path));

        Assert.Equal(path, error.Path);
        Assert.Contains("download or save it again", error.Fix);
    }

    [Fact]
    public void Unknown_content_and_missing_files_are_clear_errors()
    {
        using var dir = new TempDir();
        System.IO.File.WriteAllText(dir["notes.pth"], "these are not weights");

        var unknown = Assert.Throws<BadInputException>(() => StateDict.Read(dir["notes.pth"]));
        var missing = Assert.Throws<BadInputException>(() => StateDict.Read(dir["absent.pth"]));

        Assert.Contains("neither a PyTorch", unknown.Message);
        Assert.Contains("does not exist", missing.Message);
    }

    [Fact]
    public void Safetensors_headers_pointing_outside_the_data_or_overlapping_are_refused()
    {
        using var dir = new TempDir();
        string outside = Write(dir["outside.safetensors"], """{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}""", 8);
        string overlap = Write(dir["overlap.safetensors"], """{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}""", 16);
        string size = Write(dir["size.safetensors"], """{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}""", 8);

        Assert.Contains("outside", Assert.Throws<BadInputException>(() => StateDict.Read(outside)).Message);
        Assert.Contains("overlap", Assert.Throws<BadInputException>(() => StateDict.Read(overlap)).Message);
        Assert.Contains("needs 12", Assert.Throws<BadInputException>(() => StateDict.Read(size)).Message);

        static string Write(string path, string header, int dataBytes)
        {
            var json = System.Text.Encoding.UTF8.GetBytes(header);
            using var stream = System.IO.File.Create(path);
            stream.Write(BitConverter.GetBytes((ulong)json.Length));
            stream.Write(json);
            stream.Write(new byte[dataBytes]);
            return path;
        }
    }

    [Fact]
    public void Safetensors_round_trip_keeps_values_dtypes_layout_and_metadata()
    {
        using var scope = NewDisposeScope();
        using var dir = new TempDir();
        var matrix = randn(3, 5);
        var tensors = new (string, Tensor)[]
        {
            ("b.transposed", matrix.t()),
            ("a.ints", arange(7, dtype: ScalarType.Int64)),
            ("c.half", randn(2, 2).to(ScalarType.Float16)),
            ("d.empty", zeros(0, 3)),
        };

        Safetensors.Write(dir["t.safetensors"], tensors, new Dictionary<string, string> { ["note"] = "hello" });
        var read = StateDict.Read(dir["t.safetensors"]);

        Assert.Equal(["a.ints", "b.transposed", "c.half", "d.empty"], read.Select(t => t.Name));
        foreach (var (name, tensor) in tensors)
            Assert.True(read.Find(name)!.ToTensor().Same(tensor), name);
        Assert.Equal("hello", read.Metadata["note"]);
        Assert.Equal(["t.safetensors"], Directory.GetFiles(dir.Path).Select(Path.GetFileName));
        long headerLength = BitConverter.ToInt64(System.IO.File.ReadAllBytes(dir["t.safetensors"]), 0);
        Assert.Equal(0, headerLength % 8);
    }
}
