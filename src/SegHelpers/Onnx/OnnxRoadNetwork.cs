using Microsoft.ML.OnnxRuntime;
using SegHelpers.Evaluation;
using static TorchSharp.torch;

namespace SegHelpers.Onnx;

/// <summary>
/// The ONNX Runtime backend: a file written by <see cref="OnnxExport"/>, run in fp32 by ONNX Runtime's CPU execution provider,
/// or its CUDA provider where one is asked for and the installed runtime (<c>Microsoft.ML.OnnxRuntime.Gpu.Linux</c>) has it.
/// </summary>
public sealed class OnnxRoadNetwork : IRoadNetwork
{
    readonly InferenceSession _session;
    readonly RunOptions _run = new();
    readonly string _provider;

    OnnxRoadNetwork(InferenceSession session, string provider, string? warning)
    {
        _session = session;
        _provider = provider;
        Warning = warning;
        var metadata = session.ModelMetadata.CustomMetadataMap;
        WidthDivisor = metadata.TryGetValue("seg.width_divisor", out var d) && int.TryParse(d, out int divisor) && divisor > 0 ? divisor : 1;
        Variant = metadata.TryGetValue("seg.variant", out var v) ? v : "FCN";
    }

    /// <summary>The model's variant, from the file's metadata.</summary>
    public string Variant { get; }

    /// <inheritdoc />
    public string Description => $"{Variant}, width ÷{WidthDivisor}, ONNX Runtime {_provider}";

    /// <inheritdoc />
    public Device Device => CPU;

    /// <inheritdoc />
    public string Precision => "fp32";

    /// <inheritdoc />
    public string? Warning { get; }

    /// <inheritdoc />
    public int WidthDivisor { get; }

    /// <summary>
    /// Opens <paramref name="path"/> for <paramref name="options"/>: fp32 only; <c>cpu</c> runs the CPU provider, <c>auto</c> and
    /// <c>cuda</c> try the CUDA provider and fall back to the CPU with one line where it is not there.
    /// </summary>
    public static OnnxRoadNetwork Load(string path, PredictionOptions options)
    {
        string file = Path.GetFullPath(path);
        if (Directory.Exists(file))
            throw new BadInputException(file, "is a folder; the onnxruntime backend takes a .onnx file",
                $"export the run first: `seg weights export {Path.Combine(path, "best.safetensors")} --out model.onnx --format onnx`");
        if (!File.Exists(file))
            throw new BadInputException(file, "not found", "pass a .onnx file written by `seg weights export MODEL --out FILE.onnx --format onnx`");
        if (options.Precision != "fp32")
            throw new ArgumentException($"--precision {options.Precision} is for the libtorch backend; the onnxruntime backend runs the exported graph in fp32");
        string device = options.Device.Trim().ToLowerInvariant();
        if (device != "auto" && device != "cpu" && device != "cuda" && !device.StartsWith("cuda:", StringComparison.Ordinal))
            throw new ArgumentException($"device '{options.Device}' is not auto, cpu, cuda or cuda:N");

        var session = new SessionOptions { IntraOpNumThreads = Environment.ProcessorCount, GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL };
        string provider = "CPUExecutionProvider";
        string? warning = null;
        if (device != "cpu")
        {
            int id = device.StartsWith("cuda:", StringComparison.Ordinal) && int.TryParse(device[5..], out int n) ? n : 0;
            try
            {
                session.AppendExecutionProvider_CUDA(id);
                provider = $"CUDAExecutionProvider (device {id})";
            }
            catch (Exception e) when (e is OnnxRuntimeException or EntryPointNotFoundException or DllNotFoundException)
            {
                if (device != "auto")
                {
                    warning = $"note: ONNX Runtime's CUDA provider is not available here ({FirstLine(e.Message)}); running on the CPU. " +
                              "On a GPU host reference Microsoft.ML.OnnxRuntime.Gpu.Linux instead of Microsoft.ML.OnnxRuntime";
                    Console.Error.WriteLine(warning);
                }
            }
        }

        InferenceSession opened;
        try
        {
            opened = new InferenceSession(file, session);
        }
        catch (OnnxRuntimeException e)
        {
            throw new BadInputException(file, $"is not an ONNX model this ONNX Runtime ({OrtEnv.Instance().GetVersionString()}) can load: {FirstLine(e.Message)}",
                "export it with `seg weights export MODEL --out FILE.onnx --format onnx` (opset 17)");
        }
        if (!opened.InputMetadata.TryGetValue("image", out var input) || input.Dimensions.Length != 4 || !opened.OutputMetadata.ContainsKey("logits"))
        {
            string found = string.Join(", ", opened.InputMetadata.Select(i => $"{i.Key} [{string.Join(", ", i.Value.Dimensions)}]"));
            opened.Dispose();
            throw new BadInputException(file, $"takes {found} and gives {string.Join(", ", opened.OutputMetadata.Keys)}, not an input 'image' [N, 3, H, W] and an output 'logits'",
                "use a model written by `seg weights export MODEL --out FILE.onnx --format onnx`");
        }
        return new OnnxRoadNetwork(opened, provider, warning);
    }

    /// <summary>Options for a <c>.onnx</c> file: its run's training size where the export recorded it (<c>seg.input_size</c>), else 160×576.</summary>
    public static PredictionOptions DefaultOptions(string path)
    {
        var defaults = new PredictionOptions(Backend: "onnxruntime");
        if (!File.Exists(path))
            return defaults;
        try
        {
            if (Metadata(path).TryGetValue("seg.input_size", out var size) && size.Split('x') is [var h, var w] &&
                int.TryParse(h, out int height) && int.TryParse(w, out int width))
                return defaults with { Height = height, Width = width };
        }
        catch (Google.Protobuf.InvalidProtocolBufferException)
        {
            // Load says what is wrong with the file.
        }
        return defaults;
    }

    /// <summary>
    /// The file's <c>metadata_props</c>, read without loading the model: every other top-level field (the graph and its weights)
    /// is skipped, so the file is not parsed or optimised twice before <see cref="Load"/>.
    /// </summary>
    static Dictionary<string, string> Metadata(string path)
    {
        using var file = File.OpenRead(path);
        using var input = new Google.Protobuf.CodedInputStream(file);
        var metadata = new Dictionary<string, string>();
        uint tag;
        while ((tag = input.ReadTag()) != 0)
        {
            if (Google.Protobuf.WireFormat.GetTagFieldNumber(tag) != global::Onnx.ModelProto.MetadataPropsFieldNumber)
            {
                input.SkipLastField();
                continue;
            }
            var entry = new global::Onnx.StringStringEntryProto();
            input.ReadMessage(entry);
            metadata[entry.Key] = entry.Value;
        }
        return metadata;
    }

    /// <inheritdoc />
    public Tensor Logits(Tensor batch)
    {
        using var cpu = batch.to(ScalarType.Float32).cpu().contiguous();
        float[] data = cpu.data<float>().ToArray();
        using var value = OrtValue.CreateTensorValueFromMemory(data, [.. cpu.shape]);
        using var outputs = _session.Run(_run, ["image"], [value], ["logits"]);
        long[] shape = outputs[0].GetTensorTypeAndShape().Shape;
        return tensor(outputs[0].GetTensorDataAsSpan<float>().ToArray()).reshape(shape);
    }

    static string FirstLine(string text) => text.Split('\n', 2)[0].Trim();

    /// <inheritdoc />
    public void Dispose()
    {
        _session.Dispose();
        _run.Dispose();
    }
}
