using SegHelpers.Data;
using SegHelpers.Evaluation;

namespace SegHelpers.Onnx;

/// <summary>
/// One image predicted by a libtorch predictor and by its ONNX export on ONNX Runtime, with the same options: both maps and how
/// far apart they are, in 8-bit probability levels.
/// </summary>
/// <param name="Libtorch">libtorch's road probability map.</param>
/// <param name="OnnxRuntime">ONNX Runtime's.</param>
/// <param name="LargestDifference">The difference map's largest value, in levels of 255.</param>
/// <param name="PixelsDiffering">Pixels whose levels differ at all.</param>
/// <param name="MaskPixelsDiffering">Pixels on the other side of p ≥ 0.5.</param>
/// <param name="OnnxFile">The file ONNX Runtime ran.</param>
public sealed record OnnxAgreement(RoadProbability Libtorch, RoadProbability OnnxRuntime, int LargestDifference, int PixelsDiffering, int MaskPixelsDiffering, string OnnxFile)
{
    /// <summary>
    /// Exports <paramref name="predictor"/>'s model to <paramref name="onnxFile"/> (recording its input size, so the file predicts
    /// as the predictor does) and predicts <paramref name="image"/> with both.
    /// </summary>
    public static OnnxAgreement Measure(RoadPredictor predictor, string onnxFile, RgbImage image)
    {
        var options = predictor.Options;
        OnnxExport.Write(predictor.Model, onnxFile, new OnnxExportOptions(Metadata: new Dictionary<string, string> { ["seg.input_size"] = $"{options.Height}x{options.Width}" }));
        using var onnx = RoadPredictor.Load(onnxFile, options with { Backend = "onnxruntime", Precision = "fp32", Device = "cpu" });
        var torchMap = predictor.Predict(image);
        var ortMap = onnx.Predict(image);
        int largest = 0, differing = 0, masks = 0;
        for (int i = 0; i < torchMap.Values.Length; i++)
        {
            int d = Math.Abs(torchMap.Values[i] - ortMap.Values[i]);
            largest = Math.Max(largest, d);
            differing += d > 0 ? 1 : 0;
            masks += (torchMap.Values[i] >= RoadProbability.Threshold) != (ortMap.Values[i] >= RoadProbability.Threshold) ? 1 : 0;
        }
        return new OnnxAgreement(torchMap, ortMap, largest, differing, masks, Path.GetFullPath(onnxFile));
    }

    /// <summary>|libtorch − ONNX Runtime| per pixel as a grey image, × <paramref name="gain"/> so that single levels show.</summary>
    public RgbImage DifferenceImage(int gain = 64)
    {
        var pixels = new byte[Libtorch.Values.Length * 3];
        for (int i = 0; i < Libtorch.Values.Length; i++)
            pixels[3 * i] = pixels[3 * i + 1] = pixels[3 * i + 2] = (byte)Math.Min(255, gain * Math.Abs(Libtorch.Values[i] - OnnxRuntime.Values[i]));
        return new RgbImage(Libtorch.Width, Libtorch.Height, pixels);
    }
}
