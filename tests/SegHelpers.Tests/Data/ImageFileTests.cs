using SegHelpers.Data;

namespace SegHelpers.Tests.Data;

public class ImageFileTests
{
    [Fact]
    public void Png_round_trips_every_byte_at_an_odd_size()
    {
        using var dir = new TempDir();
        var rng = new Random(5);
        var pixels = new byte[97 * 31 * 3];
        rng.NextBytes(pixels);

        ImageFile.WritePng(dir["a.png"], new RgbImage(97, 31, pixels));
        var back = ImageFile.ReadRgb(dir["a.png"]);

        Assert.Equal((97, 31), (back.Width, back.Height));
        Assert.Equal(pixels, back.Pixels);
        Assert.Equal((97, 31), ImageFile.ReadSize(dir["a.png"]));
        Assert.Empty(Directory.GetFiles(dir.Path, "*.tmp"));
    }

    [Fact]
    public void Gray_png_round_trips()
    {
        using var dir = new TempDir();
        var gray = Enumerable.Range(0, 256).Select(i => (byte)i).ToArray();

        ImageFile.WriteGrayPng(dir["p.png"], 32, 8, gray);
        var (w, h, back) = ImageFile.ReadGray(dir["p.png"]);

        Assert.Equal((32, 8), (w, h));
        Assert.Equal(gray, back);
    }

    [Fact]
    public void Tensor_conversion_keeps_channels_and_positions()
    {
        var image = new RgbImage(2, 1, [10, 20, 30, 40, 50, 60]);

        using var t = image.ToTensor();

        Assert.Equal(new long[] { 3, 1, 2 }, t.shape);
        Assert.Equal(40, t[0, 0, 1].item<byte>());
        Assert.Equal(30, t[2, 0, 0].item<byte>());
        Assert.Equal(image.Pixels, RgbImage.FromTensor(t).Pixels);
    }

    [Fact]
    public void Truncated_png_is_a_clear_error_naming_the_file()
    {
        using var dir = new TempDir();
        // noise, so that half of the compressed stream ends mid-image
        var pixels = new byte[64 * 64 * 3];
        new Random(1).NextBytes(pixels);
        ImageFile.WritePng(dir["noisy.png"], new RgbImage(64, 64, pixels));
        var bytes = File.ReadAllBytes(dir["noisy.png"]);
        File.WriteAllBytes(dir["cut.png"], bytes[..(bytes.Length / 2)]);

        var error = Assert.Throws<BadInputException>(() => ImageFile.ReadRgb(dir["cut.png"]));

        Assert.Equal(dir["cut.png"], error.Path);
        Assert.Contains("truncated", error.Problem);
    }

    [Fact]
    public void Garbage_and_missing_files_are_clear_errors()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir["x.png"], "this is not a png");

        Assert.Contains("not a readable PNG", Assert.Throws<BadInputException>(() => ImageFile.ReadRgb(dir["x.png"])).Problem);
        Assert.Contains("not found", Assert.Throws<BadInputException>(() => ImageFile.ReadRgb(dir["nope.png"])).Problem);
    }

    [Fact]
    public void Bytes_decode_as_the_same_file_does_and_their_size_is_read_from_the_header()
    {
        using var dir = new TempDir();
        var pixels = new byte[61 * 23 * 3];
        for (int y = 0, i = 0; y < 23; y++)
            for (int x = 0; x < 61; x++, i += 3)
                (pixels[i], pixels[i + 1], pixels[i + 2]) = ((byte)(4 * x), (byte)(10 * y), 128); // smooth, so JPEG keeps it close
        var image = new RgbImage(61, 23, pixels);
        ImageFile.WritePng(dir["a.png"], image);
        byte[] png = File.ReadAllBytes(dir["a.png"]);
        byte[] jpeg = ImageFile.EncodeJpeg(image, 95);

        var decoded = ImageFile.DecodeRgb(png, "upload");
        var fromJpeg = ImageFile.DecodeRgb(jpeg, "upload");
        var truncated = Assert.Throws<BadInputException>(() => ImageFile.DecodeRgb(png[..(png.Length / 2)], "the request body"));

        Assert.Equal(ImageFile.ReadRgb(dir["a.png"]).Pixels, decoded.Pixels);
        Assert.Equal(ImageFile.EncodeGrayPng(61, 23, [.. pixels.Where((_, i) => i % 3 == 0)]), ImageFile.EncodeGrayPng(61, 23, [.. decoded.Pixels.Where((_, i) => i % 3 == 0)]));
        Assert.Equal((0xFF, 0xD8), (jpeg[0], jpeg[1]));
        Assert.Equal((61, 23), (fromJpeg.Width, fromJpeg.Height));
        Assert.True(fromJpeg.Pixels.Zip(pixels).Average(p => Math.Abs(p.First - p.Second)) < 8, "JPEG keeps the picture");
        Assert.Equal((61, 23), ImageFile.PeekSize(png));
        Assert.Equal((61, 23), ImageFile.PeekSize(jpeg));
        Assert.Null(ImageFile.PeekSize("not an image"u8.ToArray()));
        Assert.Null(ImageFile.PeekSize([]));
        Assert.StartsWith("the request body: the image is truncated", truncated.Message);
    }
}
