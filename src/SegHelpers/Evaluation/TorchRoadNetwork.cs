using SegHelpers.Data;
using SegHelpers.Model;
using SegHelpers.Native;
using TorchSharp;
using static TorchSharp.torch;

namespace SegHelpers.Evaluation;

/// <summary>The libtorch backend: an <see cref="Fcn"/> on a TorchSharp device, its encoder in bf16 where asked and checked.</summary>
public sealed class TorchRoadNetwork : IRoadNetwork
{
    /// <summary>Takes the model (which the network then owns) to <paramref name="options"/>' device and precision.</summary>
    public TorchRoadNetwork(Fcn model, PredictionOptions options, double lowPrecisionTolerance = LowPrecisionCheck.Tolerance)
    {
        Native.TorchNative.EnsureLoadable();
        TorchDevice = Native.Devices.Resolve(options.Device);
        var dtype = options.Precision switch
        {
            "fp32" => ScalarType.Float32,
            "bf16" => ScalarType.BFloat16,
            _ => throw new ArgumentException($"precision must be {string.Join(" or ", PredictionOptions.Precisions)}, not '{options.Precision}'"),
        };
        Model = model;
        Model.to(TorchDevice).to(ScalarType.Float32).eval();
        Precision = "fp32";
        if (dtype != ScalarType.Float32)
        {
            var verdict = LowPrecisionCheck.Run(Model.Encoder, dtype, TorchDevice, tolerance: lowPrecisionTolerance);
            if (verdict.Trusted)
            {
                Model.UseEncoderPrecision(dtype);
                Precision = options.Precision;
            }
            else
            {
                Warning = $"warning: {verdict}; predicting in fp32 instead";
                Console.Error.WriteLine(Warning);
            }
        }
    }

    /// <summary>The model.</summary>
    public Fcn Model { get; }

    /// <inheritdoc />
    public string Description => $"{Model.Options.Variant}, width ÷{Model.Options.WidthDivisor}, libtorch";

    /// <summary>The TorchSharp device the model is on.</summary>
    public Device TorchDevice { get; }

    /// <inheritdoc />
    public string Device => TorchDevice.ToString();

    /// <inheritdoc />
    public string Precision { get; }

    /// <inheritdoc />
    public string? Warning { get; }

    /// <inheritdoc />
    public int WidthDivisor => Model.Options.WidthDivisor;

    /// <inheritdoc />
    public IReadOnlyList<RoadProbability> Predict(IReadOnlyList<RgbImage> images, int height, int width, bool flip)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var transform = Presets.Eval(height, width);
        var inputs = images.Select(image => Presets.EvalInput(transform, image)).ToArray();
        var batch = stack(inputs).to(TorchDevice);
        var logits = Logits(batch);
        if (flip)
            logits = logits.Plus(Logits(batch.flip(3)).flip(3)).Over(2);
        var results = new List<RoadProbability>(images.Count);
        for (int i = 0; i < images.Count; i++)
        {
            // At the image's own size these tensors are the largest the predictor makes (16 bytes a pixel at the peak), so
            // each is freed as soon as the next exists instead of at the end of the scope.
            using var bytes = FullSizeRoadBytes(logits[i].unsqueeze(0), images[i].Height, images[i].Width);
            results.Add(new RoadProbability(images[i].Width, images[i].Height, bytes.data<byte>().ToArray()));
        }
        return results;
    }

    Tensor Logits(Tensor batch) => Model.call(batch).to(ScalarType.Float32);

    static Tensor FullSizeRoadBytes(Tensor logits, int height, int width)
    {
        using var full = nn.functional.interpolate(logits, [height, width], mode: InterpolationMode.Bilinear, align_corners: false);
        using var bytes = RoadPredictor.RoadBytes(full, inPlace: true);
        return bytes[0].cpu().DetachFromDisposeScope();
    }

    /// <inheritdoc />
    public void Dispose() => Model.Dispose();
}
