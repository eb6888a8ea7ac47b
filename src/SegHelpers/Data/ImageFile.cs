using SkiaSharp;

namespace SegHelpers.Data;

/// <summary>PNG/JPEG reading and PNG writing through SkiaSharp. Writes are atomic (temp file + rename).</summary>
public static class ImageFile
{
    /// <summary>Decodes a PNG or JPEG to RGB; a missing, unreadable or truncated file is a <see cref="BadInputException"/>.</summary>
    public static RgbImage ReadRgb(string path)
    {
        if (!File.Exists(path))
            throw new BadInputException(path, "file not found", "check the path; KITTI images live in training/image_2 and testing/image_2");
        using var stream = File.OpenRead(path);
        return Decode(stream, path, "replace the file with an intact copy from the dataset archive");
    }

    /// <summary>
    /// Decodes PNG or JPEG bytes (an upload) to RGB, exactly as <see cref="ReadRgb"/> decodes the same bytes from a file;
    /// unreadable or truncated data is a <see cref="BadInputException"/> naming <paramref name="source"/>.
    /// </summary>
    public static RgbImage DecodeRgb(byte[] data, string source)
    {
        using var stream = new MemoryStream(data, writable: false);
        return Decode(stream, source, "send an intact PNG or JPEG");
    }

    /// <summary>The width and height in PNG or JPEG bytes' header, without decoding the pixels; null where the bytes are no such image.</summary>
    public static (int Width, int Height)? PeekSize(byte[] data)
    {
        using var stream = new MemoryStream(data, writable: false);
        using var codec = SKCodec.Create(stream);
        return codec is null ? null : (codec.Info.Width, codec.Info.Height);
    }

    static RgbImage Decode(Stream stream, string source, string fix)
    {
        using var codec = SKCodec.Create(stream, out var created);
        if (codec is null)
            throw new BadInputException(source, $"not a readable PNG or JPEG ({created})", fix);
        var info = new SKImageInfo(codec.Info.Width, codec.Info.Height, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        var rgba = new byte[info.BytesSize];
        unsafe
        {
            fixed (byte* p = rgba)
            {
                var result = codec.GetPixels(info, (IntPtr)p);
                if (result != SKCodecResult.Success)
                    throw new BadInputException(source, result == SKCodecResult.IncompleteInput ? "the image is truncated" : $"decoding failed ({result})", fix);
            }
        }
        var rgb = new byte[info.Width * info.Height * 3];
        for (int i = 0, j = 0; j < rgb.Length; i += 4, j += 3)
        {
            rgb[j] = rgba[i];
            rgb[j + 1] = rgba[i + 1];
            rgb[j + 2] = rgba[i + 2];
        }
        return new RgbImage(info.Width, info.Height, rgb);
    }

    /// <summary>
    /// Decodes a PNG or JPEG keeping its kind: 1 byte per pixel for a grayscale file (a probability map), else 3 (RGB).
    /// </summary>
    public static (int Width, int Height, int Channels, byte[] Pixels) ReadPixels(string path)
    {
        bool gray;
        using (var codec = SKCodec.Create(path))
            gray = codec?.Info.ColorType == SKColorType.Gray8;
        var rgb = ReadRgb(path);
        if (!gray)
            return (rgb.Width, rgb.Height, 3, rgb.Pixels);
        var values = new byte[rgb.Width * rgb.Height];
        for (int i = 0; i < values.Length; i++)
            values[i] = rgb.Pixels[3 * i];
        return (rgb.Width, rgb.Height, 1, values);
    }

    /// <summary>Writes 1-channel (grayscale) or 3-channel (RGB) pixels as PNG, atomically.</summary>
    public static void WritePixels(string path, int width, int height, int channels, byte[] pixels)
    {
        if (channels == 1)
            WriteGrayPng(path, width, height, pixels);
        else if (channels == 3)
            WritePng(path, new RgbImage(width, height, pixels));
        else
            throw new ArgumentException($"1 or 3 channels, not {channels}", nameof(channels));
    }

    /// <summary>The width and height stored in an image file's header, without decoding the pixels.</summary>
    public static (int Width, int Height) ReadSize(string path)
    {
        using var codec = SKCodec.Create(path)
            ?? throw new BadInputException(path, "not a readable PNG or JPEG", "replace the file with an intact copy from the dataset archive");
        return (codec.Info.Width, codec.Info.Height);
    }

    /// <summary>Writes an RGB PNG.</summary>
    public static void WritePng(string path, RgbImage image)
    {
        byte[] png = EncodePng(image);
        AtomicFile.Write(path, stream => stream.Write(png));
    }

    /// <summary>An RGB image as PNG bytes.</summary>
    public static byte[] EncodePng(RgbImage image) => EncodeRgb(image, SKEncodedImageFormat.Png, 100);

    /// <summary>An RGB image as JPEG bytes of the given quality (0–100).</summary>
    public static byte[] EncodeJpeg(RgbImage image, int quality = 90) => EncodeRgb(image, SKEncodedImageFormat.Jpeg, quality);

    /// <summary>As <see cref="EncodeJpeg(RgbImage, int)"/>, or null where the JPEG would pass <paramref name="maxBytes"/> (the encoder stops there).</summary>
    public static byte[]? EncodeJpeg(RgbImage image, int quality, long maxBytes) => EncodeRgb(image, SKEncodedImageFormat.Jpeg, quality, maxBytes);

    /// <summary>8-bit grayscale pixels as PNG bytes, exactly what <see cref="WriteGrayPng"/> writes.</summary>
    public static byte[] EncodeGrayPng(int width, int height, byte[] gray) => EncodeGrayPng(width, height, gray, long.MaxValue)!;

    /// <summary>As <see cref="EncodeGrayPng(int, int, byte[])"/>, or null where the PNG would pass <paramref name="maxBytes"/> (the encoder stops there).</summary>
    public static byte[]? EncodeGrayPng(int width, int height, byte[] gray, long maxBytes)
    {
        if (gray.Length != width * height)
            throw new ArgumentException($"expected {width * height} bytes, got {gray.Length}", nameof(gray));
        return Encode(new SKImageInfo(width, height, SKColorType.Gray8, SKAlphaType.Opaque), gray, SKEncodedImageFormat.Png, 100, maxBytes);
    }

    static byte[] EncodeRgb(RgbImage image, SKEncodedImageFormat format, int quality) => EncodeRgb(image, format, quality, long.MaxValue)!;

    static byte[]? EncodeRgb(RgbImage image, SKEncodedImageFormat format, int quality, long maxBytes)
    {
        var rgba = new byte[image.Width * image.Height * 4];
        for (int i = 0, j = 0; j < image.Pixels.Length; i += 4, j += 3)
        {
            rgba[i] = image.Pixels[j];
            rgba[i + 1] = image.Pixels[j + 1];
            rgba[i + 2] = image.Pixels[j + 2];
            rgba[i + 3] = 255;
        }
        return Encode(new SKImageInfo(image.Width, image.Height, SKColorType.Rgba8888, SKAlphaType.Opaque), rgba, format, quality, maxBytes);
    }

    /// <summary>Writes an 8-bit grayscale PNG (KITTI submission probability maps, binary masks).</summary>
    public static void WriteGrayPng(string path, int width, int height, byte[] gray)
    {
        byte[] png = EncodeGrayPng(width, height, gray);
        AtomicFile.Write(path, stream => stream.Write(png));
    }

    /// <summary>Reads an 8-bit grayscale PNG (a probability map); colour files are reduced to their first channel.</summary>
    public static (int Width, int Height, byte[] Gray) ReadGray(string path)
    {
        var rgb = ReadRgb(path);
        var gray = new byte[rgb.Width * rgb.Height];
        for (int i = 0; i < gray.Length; i++)
            gray[i] = rgb.Pixels[3 * i];
        return (rgb.Width, rgb.Height, gray);
    }

    static byte[]? Encode(SKImageInfo info, byte[] pixels, SKEncodedImageFormat format, int quality, long maxBytes)
    {
        using var bitmap = new SKBitmap();
        using var output = new BoundedWStream(maxBytes);
        unsafe
        {
            fixed (byte* p = pixels)
            {
                if (!bitmap.InstallPixels(info, (IntPtr)p, info.RowBytes))
                    throw new InvalidOperationException($"SkiaSharp could not wrap a {info.Width}x{info.Height} {info.ColorType} image");
                bool encoded = bitmap.Encode(output, format, quality);
                if (output.Overflowed)
                    return null;
                if (!encoded)
                    throw new InvalidOperationException($"SkiaSharp could not encode a {info.Width}x{info.Height} image as {format}");
                return output.ToArray();
            }
        }
    }
}
