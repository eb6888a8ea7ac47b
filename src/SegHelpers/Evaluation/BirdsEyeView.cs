using SegHelpers.Data;

namespace SegHelpers.Evaluation;

/// <summary>
/// The KITTI Road benchmark's metric bird's-eye view, as the devkit's <c>BirdsEyeView.compute</c> (used by
/// <c>transform2BEV.py</c>) makes it from a perspective image and its calibration:
/// <list type="bullet">
/// <item>a grid of 0.05 m cells, x from −10 m to 10 m (400 columns, left to right), z from 6 m to 46 m (800 rows, the far
/// end in the top row), on the road plane y = 0;</item>
/// <item>each cell's centre, in float32, is projected with <see cref="KittiCalibration.RoadToImage"/> (in float64) to
/// 1-based image coordinates (u, v);</item>
/// <item>a cell is seen when 1 ≤ u ≤ width and 1 ≤ v ≤ height and then takes the pixel at row ⌊v⌋ − 1, column ⌊u⌋ − 1
/// (nearest, no interpolation); other cells are 0 in every channel.</item>
/// </list>
/// One instance is the lookup for one calibration and image size; it maps images of any channel count.
/// </summary>
public sealed class BirdsEyeView
{
    /// <summary>Cell size in metres.</summary>
    public const double Resolution = 0.05;

    /// <summary>The grid's lateral extent in metres (left, right).</summary>
    public static readonly (double Min, double Max) XRange = (-10, 10);

    /// <summary>The grid's depth extent in metres (near, far).</summary>
    public static readonly (double Min, double Max) ZRange = (6, 46);

    /// <summary>Grid columns (x).</summary>
    public const int Width = 400;

    /// <summary>Grid rows (z, far first).</summary>
    public const int Height = 800;

    readonly int[] _source;

    BirdsEyeView(int imageWidth, int imageHeight, int[] source)
    {
        ImageWidth = imageWidth;
        ImageHeight = imageHeight;
        _source = source;
        SeenCells = source.Count(s => s >= 0);
    }

    /// <summary>Width of the perspective images this lookup maps.</summary>
    public int ImageWidth { get; }

    /// <summary>Height of the perspective images this lookup maps.</summary>
    public int ImageHeight { get; }

    /// <summary>Cells whose centre projects into the image.</summary>
    public int SeenCells { get; }

    /// <summary>For the cell at <paramref name="row"/>, <paramref name="column"/>: the perspective pixel it takes, or null outside the view.</summary>
    public (int X, int Y)? Source(int row, int column)
    {
        int s = _source[row * Width + column];
        return s < 0 ? null : (s % ImageWidth, s / ImageWidth);
    }

    /// <summary>The lookup for images of <paramref name="imageWidth"/>×<paramref name="imageHeight"/> under <paramref name="calibration"/>.</summary>
    public static BirdsEyeView For(KittiCalibration calibration, int imageWidth, int imageHeight)
    {
        var h = calibration.RoadToImage();
        var x = Centres(XRange.Min + Resolution / 2, XRange.Max, Resolution);
        var z = Centres(ZRange.Max - Resolution / 2, ZRange.Min, -Resolution);
        if (x.Length != Width || z.Length != Height)
            throw new InvalidOperationException($"the grid came out {z.Length}×{x.Length}, not {Height}×{Width}");
        var source = new int[Width * Height];
        for (int row = 0; row < Height; row++)
            for (int col = 0; col < Width; col++)
            {
                double cx = x[col], cz = z[row];
                double w = h[2, 0] * cx + h[2, 1] * cz + h[2, 2];
                double u = (h[0, 0] * cx + h[0, 1] * cz + h[0, 2]) / w;
                double v = (h[1, 0] * cx + h[1, 1] * cz + h[1, 2]) / w;
                source[row * Width + col] = v >= 1 && u >= 1 && v <= imageHeight && u <= imageWidth
                    ? ((int)v - 1) * imageWidth + (int)u - 1
                    : -1;
            }
        return new BirdsEyeView(imageWidth, imageHeight, source);
    }

    /// <summary>
    /// Maps an interleaved image of <paramref name="channels"/> bytes per pixel (1 for a probability map, 3 for RGB) to the
    /// grid: <see cref="Width"/>×<see cref="Height"/> with the same channels, 0 outside the view.
    /// </summary>
    public byte[] Map(ReadOnlySpan<byte> pixels, int channels)
    {
        if (pixels.Length != ImageWidth * ImageHeight * channels)
            throw new ArgumentException($"expected a {ImageWidth}×{ImageHeight} image with {channels} channel(s), got {pixels.Length} bytes");
        var output = new byte[Width * Height * channels];
        for (int cell = 0; cell < _source.Length; cell++)
        {
            int s = _source[cell];
            if (s >= 0)
                pixels.Slice(s * channels, channels).CopyTo(output.AsSpan(cell * channels, channels));
        }
        return output;
    }

    /// <summary>
    /// Class indices (<see cref="RoadLabel"/>) in the bird's-eye view: what decoding the mapped KITTI label gives, cells outside
    /// the view being <see cref="RoadLabel.Ignore"/> like its black.
    /// </summary>
    public byte[] MapClasses(ReadOnlySpan<byte> mask)
    {
        if (mask.Length != ImageWidth * ImageHeight)
            throw new ArgumentException($"expected a {ImageWidth}×{ImageHeight} mask, got {mask.Length} values");
        var output = new byte[Width * Height];
        for (int cell = 0; cell < _source.Length; cell++)
            output[cell] = _source[cell] >= 0 ? mask[_source[cell]] : RoadLabel.Ignore;
        return output;
    }

    /// <summary>An RGB image (a camera image or a KITTI label) in the bird's-eye view.</summary>
    public RgbImage Map(RgbImage image)
    {
        Check(image.Width, image.Height);
        return new RgbImage(Width, Height, Map(image.Pixels, 3));
    }

    /// <summary>A road probability map in the bird's-eye view, still 8-bit.</summary>
    public RoadProbability Map(RoadProbability probability)
    {
        Check(probability.Width, probability.Height);
        return new RoadProbability(Width, Height, Map(probability.Values, 1));
    }

    void Check(int width, int height)
    {
        if (width != ImageWidth || height != ImageHeight)
            throw new ArgumentException($"this lookup maps {ImageWidth}×{ImageHeight} images, not {width}×{height}");
    }

    /// <summary>numpy's <c>arange(start, stop, step)</c> (start + i·((start + step) − start)), then cast to float32 as the devkit does.</summary>
    static float[] Centres(double start, double stop, double step)
    {
        int count = (int)Math.Ceiling((stop - start) / step);
        double delta = start + step - start;
        var values = new float[count];
        for (int i = 0; i < count; i++)
            values[i] = (float)(start + i * delta);
        return values;
    }
}
