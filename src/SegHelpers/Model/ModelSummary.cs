using TorchSharp;
using static TorchSharp.torch;

namespace SegHelpers.Model;

/// <summary>One stage of an FCN with its parameters and the output shape for a given input.</summary>
public sealed record SummaryRow(string Stage, long Parameters, long[] OutputShape);

/// <summary>A per-stage table of an FCN: the five VGG blocks, fc6/fc7 and the decoder, from a real forward pass.</summary>
public static class ModelSummary
{
    /// <summary>Runs one image of <paramref name="height"/>×<paramref name="width"/> through <paramref name="model"/> (eval, no gradients).</summary>
    public static IReadOnlyList<SummaryRow> Build(Fcn model, int height, int width)
    {
        Fcn.CheckFits(1, height, width, model.Options.WidthDivisor);
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        bool training = model.training;
        model.eval();
        try
        {
            var rows = new List<SummaryRow>();
            var (pools, fc7) = model.Encoder.Stages(zeros(1, 3, Fcn.PaddedSize(height), Fcn.PaddedSize(width)));
            long blockParams = 0;
            int block = 0;
            foreach (var layer in model.Encoder.Features.children())
            {
                blockParams += layer.parameters().Sum(p => p.numel());
                if (layer is TorchSharp.Modules.MaxPool2d)
                {
                    rows.Add(new SummaryRow($"encoder block {block + 1} (pool{block + 1})", blockParams, pools[block].shape));
                    blockParams = 0;
                    block++;
                }
            }
            long featureParams = model.Encoder.Features.parameters().Sum(p => p.numel());
            rows.Add(new SummaryRow("encoder fc6 + fc7 (convolutional)", model.Encoder.parameters().Sum(p => p.numel()) - featureParams, fc7.shape));
            var output = model.call(zeros(1, 3, height, width));
            rows.Add(new SummaryRow($"decoder ({model.Options.Variant}, {model.Options.NumClasses} classes)", model.Decoder.parameters().Sum(p => p.numel()), output.shape));
            return rows;
        }
        finally
        {
            model.train(training);
        }
    }
}
