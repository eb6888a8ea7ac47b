using System.Runtime.InteropServices;
using Google.Protobuf;
using Onnx;
using SegHelpers.Model;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace SegHelpers.Onnx;

/// <summary>What an ONNX export holds beside the graph and weights.</summary>
/// <param name="RoadProbability">Also output <c>road</c>, the softmax's road channel [N, 1, H, W], beside <c>logits</c>.</param>
/// <param name="Metadata">More <c>metadata_props</c> entries (the source run, its training size), added to those the export always writes.</param>
public sealed record OnnxExportOptions(bool RoadProbability = true, IReadOnlyDictionary<string, string>? Metadata = null);

/// <summary>
/// Writes an <see cref="Fcn"/> as one ONNX file, graph and weights: input <c>image</c> [N, 3, H, W] float, normalised as
/// <see cref="Data.Presets"/> does (ImageNet mean and std, named in the metadata), any N, H and W; output <c>logits</c>
/// [N, classes, H, W] and optionally <c>road</c>. The padding to a multiple of 32 and the crop back to H×W are computed in the
/// graph from the input's shape, as <see cref="Fcn.Forward"/> does them, so every input size the model takes works.
/// </summary>
public static class OnnxExport
{
    /// <summary>
    /// Opset 17: every operator the graph uses (Conv, ConvTranspose, MaxPool, Relu, Pad with its pads as an input, Slice,
    /// Softmax on one axis) has had its present form since opset 13 at the latest; 17 is the newest opset ONNX Runtime ≥ 1.14 and
    /// TensorRT ≥ 8.6 both take, so one file serves a C# service and an in-car TensorRT build alike.
    /// </summary>
    public const int Opset = 17;

    /// <summary>The IR version of opset 17 (ONNX 1.12).</summary>
    public const long IrVersion = 8;

    /// <summary>The mean and standard deviation per RGB channel the input is normalised with (torchvision's ImageNet figures).</summary>
    public static readonly IReadOnlyList<float> Mean = [0.485f, 0.456f, 0.406f], Std = [0.229f, 0.224f, 0.225f];

    /// <summary>Builds the model's ONNX form in memory.</summary>
    public static ModelProto Build(Fcn model, OnnxExportOptions? options = null)
    {
        options ??= new OnnxExportOptions();
        var g = new GraphBuilder(model.Options.Variant);
        using var _ = no_grad();

        g.Input("image", ["N", 3, "H", "W"]);
        // Pad the bottom and right to a multiple of 32: pads = [0, 0, 0, 0, 0, 0, (32 − H mod 32) mod 32, (32 − W mod 32) mod 32].
        g.Node("Shape", ["image"], ["shape"]);
        g.Node("Slice", ["shape", g.Int64s("two", [2]), g.Int64s("four", [4]), g.Int64s("zero_axis", [0])], ["hw"]);
        var thirtyTwo = g.Int64s("thirty_two", [32]);
        g.Node("Mod", ["hw", thirtyTwo], ["hw_rem"]);
        g.Node("Sub", [thirtyTwo, "hw_rem"], ["hw_short"]);
        g.Node("Mod", ["hw_short", thirtyTwo], ["hw_pad"]);
        g.Node("Concat", [g.Int64s("no_pads", [0, 0, 0, 0, 0, 0]), "hw_pad"], ["pads"], Attribute("axis", 0));
        g.Node("Pad", ["image", "pads"], ["padded"], Attribute("mode", "constant"));

        string x = "padded";
        var pools = new List<string>();
        foreach (var (name, layer) in model.Encoder.Layers)
        {
            string output = $"encoder.{name}";
            switch (layer)
            {
                case Conv2d conv:
                    x = g.Conv(output, x, $"encoder.{name}", conv.weight!, conv.bias);
                    break;
                case ReLU:
                    g.Node("Relu", [x], [output]);
                    x = output;
                    break;
                case MaxPool2d:
                    g.Node("MaxPool", [x], [output], Attribute("kernel_shape", [2, 2]), Attribute("strides", [2, 2]));
                    x = output;
                    pools.Add(x);
                    break;
                case SeededDropout:
                    break; // identity at inference
                default:
                    throw new NotSupportedException($"no ONNX form for encoder layer {name} ({layer.GetType().Name})");
            }
        }
        string fc7 = x, pool3 = pools[2], pool4 = pools[3];

        var parameters = model.Decoder.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        Tensor P(string name) => parameters[name];
        double pool4Scale = model.Options.AtOnceSkipScaling ? 0.01 : 1, pool3Scale = model.Options.AtOnceSkipScaling ? 0.0001 : 1;
        string Score(string layer, string input, double scale)
        {
            if (scale != 1)
            {
                g.Node("Mul", [input, g.Floats($"decoder.{layer}.scale", [(float)scale])], [$"{input}.scaled"]);
                input = $"{input}.scaled";
            }
            return g.Conv($"decoder.{layer}", input, $"decoder.{layer}", P($"{layer}.weight"), P($"{layer}.bias"));
        }
        string Upsample(string layer, string input, int factor) =>
            g.ConvTranspose($"decoder.{layer}", input, $"decoder.{layer}", P($"{layer}.weight"), factor);

        int stride = model.Options.OutputStride;
        string y = Score("score_fr", fc7, 1);
        if (stride <= 16)
        {
            g.Node("Add", [Upsample("upscore2", y, 2), Score("score_pool4", pool4, pool4Scale)], ["decoder.fuse_pool4"]);
            y = "decoder.fuse_pool4";
        }
        if (stride == 8)
        {
            g.Node("Add", [Upsample("upscore_pool4", y, 2), Score("score_pool3", pool3, pool3Scale)], ["decoder.fuse_pool3"]);
            y = "decoder.fuse_pool3";
        }
        y = Upsample("upscore", y, stride);
        g.Node("Slice", [y, g.Int64s("crop_starts", [0, 0]), "hw", g.Int64s("crop_axes", [2, 3])], ["logits"]);
        long classes = model.Options.NumClasses;
        g.Output("logits", ["N", classes, "H", "W"]);
        if (options.RoadProbability)
        {
            g.Node("Softmax", ["logits"], ["probabilities"], Attribute("axis", 1));
            g.Node("Slice", ["probabilities", g.Int64s("road_start", [1]), g.Int64s("road_end", [2]), g.Int64s("class_axis", [1])], ["road"]);
            g.Output("road", ["N", 1, "H", "W"]);
        }

        var onnx = new ModelProto
        {
            IrVersion = IrVersion,
            ProducerName = "seg",
            ProducerVersion = typeof(OnnxExport).Assembly.GetName().Version?.ToString() ?? "",
            DocString = $"{model.Options.Variant} road segmentation (FCN, Long, Shelhamer & Darrell 2015), exported by seg",
            Graph = g.Graph,
        };
        onnx.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = Opset });
        var metadata = new Dictionary<string, string>
        {
            ["seg.variant"] = model.Options.Variant,
            ["seg.width_divisor"] = model.Options.WidthDivisor.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["seg.classes"] = classes == 2 ? "non-road,road" : string.Join(",", Enumerable.Range(0, (int)classes)),
            ["seg.input"] = "RGB, values / 255, then (x - mean) / std per channel; N x 3 x H x W",
            ["seg.mean"] = string.Join(",", Mean.Select(v => v.ToString("R", System.Globalization.CultureInfo.InvariantCulture))),
            ["seg.std"] = string.Join(",", Std.Select(v => v.ToString("R", System.Globalization.CultureInfo.InvariantCulture))),
        };
        foreach (var (key, value) in options.Metadata ?? new Dictionary<string, string>())
            metadata[key] = value;
        foreach (var (key, value) in metadata)
            onnx.MetadataProps.Add(new StringStringEntryProto { Key = key, Value = value });
        return onnx;
    }

    /// <summary>Writes the model to <paramref name="path"/> (through a temporary file and a rename) and returns its size in bytes.</summary>
    public static long Write(Fcn model, string path, OnnxExportOptions? options = null)
    {
        var onnx = Build(model, options);
        AtomicFile.Write(path, stream => onnx.WriteTo(stream));
        return new FileInfo(path).Length;
    }

    static AttributeProto Attribute(string name, long value) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };

    static AttributeProto Attribute(string name, string value) => new() { Name = name, Type = AttributeProto.Types.AttributeType.String, S = ByteString.CopyFromUtf8(value) };

    static AttributeProto Attribute(string name, long[] values)
    {
        var a = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        a.Ints.AddRange(values);
        return a;
    }

    sealed class GraphBuilder(string name)
    {
        public GraphProto Graph { get; } = new() { Name = name };

        public void Input(string name, object[] dims) => Graph.Input.Add(Value(name, dims));

        public void Output(string name, object[] dims) => Graph.Output.Add(Value(name, dims));

        static ValueInfoProto Value(string name, object[] dims)
        {
            var shape = new TensorShapeProto();
            foreach (var d in dims)
                shape.Dim.Add(d is string param ? new TensorShapeProto.Types.Dimension { DimParam = param } : new TensorShapeProto.Types.Dimension { DimValue = Convert.ToInt64(d, System.Globalization.CultureInfo.InvariantCulture) });
            return new ValueInfoProto
            {
                Name = name,
                Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float, Shape = shape } },
            };
        }

        public void Node(string op, string[] inputs, string[] outputs, params AttributeProto[] attributes)
        {
            var node = new NodeProto { OpType = op, Name = $"{op}_{Graph.Node.Count}" };
            node.Input.AddRange(inputs);
            node.Output.AddRange(outputs);
            node.Attribute.AddRange(attributes);
            Graph.Node.Add(node);
        }

        public string Int64s(string name, long[] values)
        {
            var t = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Int64 };
            t.Dims.Add(values.Length);
            t.Int64Data.AddRange(values);
            Graph.Initializer.Add(t);
            return name;
        }

        public string Floats(string name, float[] values)
        {
            var t = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Float };
            t.Dims.Add(values.Length);
            t.FloatData.AddRange(values);
            Graph.Initializer.Add(t);
            return name;
        }

        /// <summary>A weight as an initializer, fp32 little-endian raw bytes, named as in the model's state dict.</summary>
        public string Weight(string name, Tensor weight)
        {
            using var cpu = weight.detach().to(ScalarType.Float32).cpu().contiguous();
            var t = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Float };
            t.Dims.AddRange(cpu.shape);
            t.RawData = ByteString.CopyFrom(MemoryMarshal.AsBytes(cpu.data<float>().ToArray().AsSpan()));
            Graph.Initializer.Add(t);
            return name;
        }

        public string Conv(string output, string input, string prefix, Tensor weight, Tensor? bias)
        {
            long k = weight.shape[2];
            var inputs = new List<string> { input, Weight($"{prefix}.weight", weight) };
            if (bias is not null)
                inputs.Add(Weight($"{prefix}.bias", bias));
            long pad = k / 2;
            Node("Conv", [.. inputs], [output], Attribute("kernel_shape", [k, k]), Attribute("pads", [pad, pad, pad, pad]), Attribute("strides", [1, 1]));
            return output;
        }

        public string ConvTranspose(string output, string input, string prefix, Tensor weight, int factor)
        {
            long k = weight.shape[2], pad = factor / 2;
            Node("ConvTranspose", [input, Weight($"{prefix}.weight", weight)], [output],
                Attribute("kernel_shape", [k, k]), Attribute("strides", [factor, factor]), Attribute("pads", [pad, pad, pad, pad]));
            return output;
        }
    }
}
