using SegHelpers.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace SegHelpers.Evaluation;

/// <summary>The libtorch backend: an <see cref="Fcn"/> on a TorchSharp device, its encoder in bf16 where asked and checked.</summary>
public sealed class TorchRoadNetwork : IRoadNetwork
{
    /// <summary>Takes the model (which the network then owns) to <paramref name="options"/>' device and precision.</summary>
    public TorchRoadNetwork(Fcn model, PredictionOptions options, double lowPrecisionTolerance = LowPrecisionCheck.Tolerance)
    {
        Device = Native.Devices.Resolve(options.Device);
        var dtype = options.Precision switch
        {
            "fp32" => ScalarType.Float32,
            "bf16" => ScalarType.BFloat16,
            _ => throw new ArgumentException($"precision must be {string.Join(" or ", PredictionOptions.Precisions)}, not '{options.Precision}'"),
        };
        Model = model;
        Model.to(Device).to(ScalarType.Float32).eval();
        Precision = "fp32";
        if (dtype != ScalarType.Float32)
        {
            var verdict = LowPrecisionCheck.Run(Model.Encoder, dtype, Device, tolerance: lowPrecisionTolerance);
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

    /// <inheritdoc />
    public Device Device { get; }

    /// <inheritdoc />
    public string Precision { get; }

    /// <inheritdoc />
    public string? Warning { get; }

    /// <inheritdoc />
    public int WidthDivisor => Model.Options.WidthDivisor;

    /// <inheritdoc />
    public Tensor Logits(Tensor batch) => Model.call(batch).to(ScalarType.Float32);

    /// <inheritdoc />
    public void Dispose() => Model.Dispose();
}
