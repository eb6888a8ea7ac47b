using SegHelpers.Data;

namespace SegHelpers.Onnx;

/// <summary>
/// The predictor's input and output steps in managed code, following libtorch's kernels (bilinear resampling with
/// <c>align_corners=false</c>, antialiased when shrinking; ImageNet normalisation; softmax; rounding half to even), so that the
/// ONNX Runtime backend predicts without loading libtorch. Results agree with <see cref="Presets.EvalInput(RgbImage, int, int)"/>
/// and <see cref="Evaluation.RoadPredictor.RoadBytes(TorchSharp.torch.Tensor)"/> to float rounding (tests/…/Onnx/ManagedTransformsTests).
/// </summary>
static class ManagedTransforms
{
    /// <summary>Source taps of every output index along one axis: first index, count and weights (at most <c>Width</c> taps each).</summary>
    readonly record struct Taps(int[] First, int[] Count, float[] Weights, int Width);

    /// <summary>
    /// The eval preset of an image as a normalised [3, <paramref name="height"/>, <paramref name="width"/>] float plane, written to
    /// <paramref name="destination"/>.
    /// </summary>
    public static void EvalInput(RgbImage image, int height, int width, Span<float> destination)
    {
        int inH = image.Height, inW = image.Width;
        bool antialias = height < inH || width < inW;
        var columns = antialias ? Antialiased(inW, width) : Linear(inW, width);
        var rows = antialias ? Antialiased(inH, height) : Linear(inH, height);
        var mean = Normalize.ImageNetMean;
        var std = Normalize.ImageNetStd;
        // Width first, then height, as libtorch's separable antialiased kernel does.
        var across = new float[3 * inH * width];
        for (int y = 0; y < inH; y++)
            for (int x = 0; x < width; x++)
            {
                int first = columns.First[x], count = columns.Count[x];
                for (int c = 0; c < 3; c++)
                {
                    float sum = 0;
                    for (int k = 0; k < count; k++)
                        sum += columns.Weights[x * columns.Width + k] * (image.Pixels[3 * (y * inW + first + k) + c] / 255f);
                    across[(c * inH + y) * width + x] = sum;
                }
            }
        for (int c = 0; c < 3; c++)
        {
            float m = (float)mean[c], s = (float)std[c];
            for (int y = 0; y < height; y++)
            {
                int first = rows.First[y], count = rows.Count[y];
                for (int x = 0; x < width; x++)
                {
                    float sum = 0;
                    for (int k = 0; k < count; k++)
                        sum += rows.Weights[y * rows.Width + k] * across[(c * inH + first + k) * width + x];
                    destination[(c * height + y) * width + x] = (sum - m) / s;
                }
            }
        }
    }

    /// <summary>
    /// Two-class logits [2, h, w] resized bilinearly to <paramref name="height"/>×<paramref name="width"/>, softmax, road × 255,
    /// rounded and clamped: the 8-bit map, computed row by row without a full-size float buffer.
    /// </summary>
    public static byte[] RoadBytes(ArraySegment<float> logits, int h, int w, int height, int width)
    {
        if (logits.Count != 2 * h * w)
            throw new ArgumentException($"expected 2×{h}×{w} logits, got {logits.Count} values", nameof(logits));
        var rows = Linear(h, height);
        var columns = Linear(w, width);
        float[] source = logits.Array!;
        int offset = logits.Offset;
        var bytes = new byte[height * width];
        Parallel.For(0, height, y =>
        {
            int y0 = rows.First[y], y1 = y0 + rows.Count[y] - 1;
            float wy0 = rows.Weights[2 * y], wy1 = rows.Weights[2 * y + 1];
            for (int x = 0; x < width; x++)
            {
                int x0 = columns.First[x], x1 = x0 + columns.Count[x] - 1;
                float wx0 = columns.Weights[2 * x], wx1 = columns.Weights[2 * x + 1];
                float nonRoad = Blend(source, offset, y0, y1, x0, x1, wy0, wy1, wx0, wx1, w);
                float road = Blend(source, offset + h * w, y0, y1, x0, x1, wy0, wy1, wx0, wx1, w);
                float top = MathF.Max(nonRoad, road);
                float eRoad = MathF.Exp(road - top);
                float p = eRoad / (MathF.Exp(nonRoad - top) + eRoad);
                bytes[y * width + x] = (byte)Math.Clamp(MathF.Round(p * 255f), 0f, 255f);
            }
        });
        return bytes;
    }

    static float Blend(float[] source, int plane, int y0, int y1, int x0, int x1, float wy0, float wy1, float wx0, float wx1, int w)
    {
        return wy0 * (wx0 * source[plane + y0 * w + x0] + wx1 * source[plane + y0 * w + x1]) +
               wy1 * (wx0 * source[plane + y1 * w + x0] + wx1 * source[plane + y1 * w + x1]);
    }

    /// <summary>Plain bilinear taps (two per output, the second repeating the first at the far edge), as libtorch's upsample_bilinear2d.</summary>
    static Taps Linear(int input, int output)
    {
        float scale = (float)input / output;
        var first = new int[output];
        var count = new int[output];
        var weights = new float[2 * output];
        for (int i = 0; i < output; i++)
        {
            float real = Math.Max(scale * (i + 0.5f) - 0.5f, 0f);
            int index = (int)real;
            float lambda = real - index;
            first[i] = index;
            count[i] = index < input - 1 ? 2 : 1;
            weights[2 * i] = 1f - lambda;
            weights[2 * i + 1] = lambda;
            if (count[i] == 1)
            {
                // At the last source index both taps are the same pixel; one tap with the whole weight.
                weights[2 * i] = 1f;
                weights[2 * i + 1] = 0f;
            }
        }
        return new Taps(first, count, weights, 2);
    }

    /// <summary>
    /// libtorch's antialiased bilinear taps (<c>_compute_indices_weights_aa</c>): a triangle filter stretched by the scale when
    /// shrinking, clipped at the borders and normalised.
    /// </summary>
    static Taps Antialiased(int input, int output)
    {
        float scale = (float)input / output;
        float support = scale >= 1f ? scale : 1f;
        float invScale = scale >= 1f ? 1f / scale : 1f;
        int width = (int)Math.Ceiling(support) * 2 + 1;
        var first = new int[output];
        var count = new int[output];
        var weights = new float[width * output];
        for (int i = 0; i < output; i++)
        {
            float center = scale * (i + 0.5f);
            int min = Math.Max((int)(center - support + 0.5f), 0);
            int size = Math.Min((int)(center + support + 0.5f), input) - min;
            float total = 0;
            for (int j = 0; j < size; j++)
            {
                float v = 1f - MathF.Abs((j + min - center + 0.5f) * invScale);
                float weight = v > 0 ? v : 0f;
                weights[i * width + j] = weight;
                total += weight;
            }
            for (int j = 0; j < size; j++)
                weights[i * width + j] = total != 0 ? weights[i * width + j] / total : 0f;
            first[i] = min;
            count[i] = size;
        }
        return new Taps(first, count, weights, width);
    }
}
