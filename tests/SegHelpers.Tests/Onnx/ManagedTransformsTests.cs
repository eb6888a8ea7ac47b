using SegHelpers.Data;
using SegHelpers.Evaluation;
using SegHelpers.Native;
using SegHelpers.Onnx;
using SegHelpers.Tests.Downloads;
using static TorchSharp.torch;

namespace SegHelpers.Tests.Onnx;

/// <summary>The ONNX Runtime backend's managed input and output steps against libtorch's, which the libtorch backend runs.</summary>
public class ManagedTransformsTests
{
    static RgbImage Noise(int width, int height, int seed)
    {
        var pixels = new byte[width * height * 3];
        new Random(seed).NextBytes(pixels);
        return new RgbImage(width, height, pixels);
    }

    static void SameInput(RgbImage image, int height, int width)
    {
        TorchNative.EnsureLoadable();
        using var scope = NewDisposeScope();
        var expected = Presets.EvalInput(image, height, width).data<float>().ToArray();
        var actual = new float[3 * height * width];
        ManagedTransforms.EvalInput(image, height, width, actual);

        double worst = 0;
        for (int i = 0; i < expected.Length; i++)
            worst = Math.Max(worst, Math.Abs(expected[i] - actual[i]));
        Assert.True(worst <= 2e-5, $"{image.Width}x{image.Height} → {width}x{height}: largest difference {worst:G3} from libtorch's eval input");
    }

    [Theory]
    [InlineData(1242, 375, 160, 576)] // KITTI → the default network size: shrinking, antialiased
    [InlineData(65, 33, 96, 160)] // growing both ways: plain bilinear
    [InlineData(300, 50, 64, 96)] // narrower but taller: antialiased both ways, as libtorch decides
    [InlineData(97, 31, 31, 97)] // the same size: copied
    [InlineData(1000, 999, 7, 3)] // a strong shrink with wide filters
    public void Eval_input_is_libtorchs_resize_and_normalisation(int imageWidth, int imageHeight, int height, int width) =>
        SameInput(Noise(imageWidth, imageHeight, imageWidth + imageHeight), height, width);

    [KittiSampleFact]
    public void Eval_input_of_a_real_kitti_image_is_libtorchs()
    {
        string image = Directory.GetFiles(Path.Combine(KittiSampleFactAttribute.Folder, "training", "image_2"), "*.png").Order().First();
        SameInput(ImageFile.ReadRgb(image), 160, 576);
    }

    [Theory]
    [InlineData(160, 576, 375, 1242)] // the network size back to KITTI's
    [InlineData(17, 23, 100, 301)] // uneven ratios
    [InlineData(40, 40, 13, 7)] // an image smaller than the network input
    [InlineData(8, 8, 8, 8)]
    public void Road_bytes_are_libtorchs_upsampling_softmax_and_rounding(int h, int w, int height, int width)
    {
        TorchNative.EnsureLoadable();
        using var scope = NewDisposeScope();
        var generator = new TorchSharp.torch.Generator((ulong)(h * w + height));
        var logits = (randn([1, 2, h, w], generator: generator) * 6).contiguous();
        using var full = nn.functional.interpolate(logits, [height, width], mode: InterpolationMode.Bilinear, align_corners: false);
        var expected = RoadPredictor.RoadBytes(full)[0].data<byte>().ToArray();

        var actual = ManagedTransforms.RoadBytes(logits.data<float>().ToArray(), h, w, height, width);

        Assert.Equal(expected.Length, actual.Length);
        int off = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            int d = Math.Abs(expected[i] - actual[i]);
            Assert.True(d <= 1, $"{h}x{w} → {height}x{width}: value {i} is {actual[i]}, libtorch's {expected[i]}");
            off += d;
        }
        Assert.True(off <= Math.Max(1, expected.Length / 1000), $"{off} of {expected.Length} values one level from libtorch's");
    }

    [Fact]
    public void Road_bytes_refuse_logits_of_another_shape()
    {
        var e = Assert.Throws<ArgumentException>(() => ManagedTransforms.RoadBytes(new float[3 * 4 * 4], 4, 4, 8, 8));
        Assert.Contains("2×4×4", e.Message);
    }
}
