using Microsoft.ML.OnnxRuntime;
using SegHelpers.Data;
using SegHelpers.Evaluation;

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

    OnnxRoadNetwork(InferenceSession session, string provider, string device, string? warning)
    {
        _session = session;
        _provider = provider;
        Device = device;
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
    public string Device { get; }

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
        string file = ModelFile(path);
        if (Directory.Exists(file))
            throw new BadInputException(file, "is a folder with neither a .onnx file nor a checkpoint (best.safetensors); the onnxruntime backend takes a .onnx file, a folder holding one (as SageMaker unpacks model.tar.gz), or a run",
                "train the run first (seg train), or pass the .onnx file from `seg weights export MODEL --out FILE.onnx --format onnx`");
        if (!File.Exists(file))
            throw new BadInputException(file, "not found", "pass a .onnx file written by `seg weights export MODEL --out FILE.onnx --format onnx`");
        return Open(options, session => new InferenceSession(file, session), file, exported: false);
    }

    /// <summary>
    /// Exports <paramref name="model"/> in memory (logits only) and opens the export as <see cref="Load"/> opens a file: how a
    /// checkpoint is served on ONNX Runtime without a <c>.onnx</c> file. The caller still owns <paramref name="model"/> and may
    /// dispose it as soon as this returns.
    /// </summary>
    public static OnnxRoadNetwork FromModel(Model.Fcn model, PredictionOptions options)
    {
        byte[] onnx = Google.Protobuf.MessageExtensions.ToByteArray(OnnxExport.Build(model, new OnnxExportOptions(RoadProbability: false)));
        return Open(options, session => new InferenceSession(onnx, session), "the in-memory export", exported: true);
    }

    static OnnxRoadNetwork Open(PredictionOptions options, Func<SessionOptions, InferenceSession> create, string file, bool exported)
    {
        if (options.Precision != "fp32")
            throw new ArgumentException($"--precision {options.Precision} is for the libtorch backend; the onnxruntime backend runs the exported graph in fp32");
        string device = options.Device.Trim().ToLowerInvariant();
        if (device != "auto" && device != "cpu" && device != "cuda" && !device.StartsWith("cuda:", StringComparison.Ordinal))
            throw new ArgumentException($"device '{options.Device}' is not auto, cpu, cuda or cuda:N");

        // A notebook kernel that references SegHelpers.dll by path has no deps.json to say where libonnxruntime.so is.
        Native.NativeAssets.PreferRuntimesFolder(typeof(InferenceSession).Assembly, "onnxruntime", "libonnxruntime.so");
        QuietEnvironment();
        using var session = new SessionOptions { IntraOpNumThreads = Environment.ProcessorCount, GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL };
        // Pool threads that spin between passes take the cores that decode and encode the requests: without spinning, seg serve
        // answered 4 clients 1.4× faster and its /ping p99 fell from 79 to 25 ms (docs/performance.md).
        session.AddSessionConfigEntry("session.intra_op.allow_spinning", "0");
        string provider = "CPUExecutionProvider", runsOn = "cpu";
        string? warning = null;
        if (device != "cpu")
        {
            int id = device.StartsWith("cuda:", StringComparison.Ordinal) && int.TryParse(device[5..], out int n) ? n : 0;
            try
            {
                session.AppendExecutionProvider_CUDA(id);
                provider = $"CUDAExecutionProvider (device {id})";
                runsOn = $"cuda:{id}";
            }
            catch (Exception e) when (e is OnnxRuntimeException or EntryPointNotFoundException or DllNotFoundException)
            {
                if (device != "auto")
                {
                    warning = $"note: ONNX Runtime's CUDA provider is not available here: {WhyNoCuda(e)}; running on the CPU";
                    Console.Error.WriteLine(warning);
                }
            }
        }

        InferenceSession opened;
        try
        {
            opened = create(session);
        }
        catch (OnnxRuntimeException e)
        {
            throw new BadInputException(file, $"is not an ONNX model this ONNX Runtime ({OrtEnv.Instance().GetVersionString()}) can load: {FirstLine(e.Message)}",
                "export it with `seg weights export MODEL --out FILE.onnx --format onnx` (opset 17)");
        }
        if (!opened.InputMetadata.TryGetValue("image", out var input) || input.Dimensions.Length != 4 || !opened.OutputMetadata.ContainsKey("logits"))
        {
            string found = string.Join(", ", opened.InputMetadata.Select(i => $"{i.Key} [{string.Join(", ", i.Value.Dimensions)}]"));
            string outputs = string.Join(", ", opened.OutputMetadata.Keys);
            opened.Dispose();
            throw new BadInputException(file, $"takes {found} and gives {outputs}, not an input 'image' [N, 3, H, W] and an output 'logits'",
                "use a model written by `seg weights export MODEL --out FILE.onnx --format onnx`");
        }
        return new OnnxRoadNetwork(opened, exported ? $"{provider}, exported at load" : provider, runsOn, warning);
    }

    /// <summary>The model file <paramref name="path"/> names: itself, or the one <c>.onnx</c> file in a folder (such as SageMaker's <c>/opt/ml/model</c>).</summary>
    public static string ModelFile(string path)
    {
        string full = Path.GetFullPath(path);
        if (!Directory.Exists(full))
            return full;
        var models = Directory.GetFiles(full, "*.onnx");
        return models.Length switch
        {
            1 => models[0],
            0 => full,
            _ => throw new BadInputException(full, $"holds {models.Length} .onnx files ({string.Join(", ", models.Select(Path.GetFileName))})", "pass the one to serve"),
        };
    }

    /// <summary>Options for a <c>.onnx</c> file: its run's training size where the export recorded it (<c>seg.input_size</c>), else 160×576.</summary>
    public static PredictionOptions DefaultOptions(string path)
    {
        var defaults = new PredictionOptions(Backend: "onnxruntime");
        path = ModelFile(path);
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
    public IReadOnlyList<RoadProbability> Predict(IReadOnlyList<RgbImage> images, int height, int width, bool flip)
    {
        int plane = 3 * height * width;
        var input = new float[images.Count * plane];
        Parallel.For(0, images.Count, i => ManagedTransforms.EvalInput(images[i], height, width, input.AsSpan(i * plane, plane)));
        float[] logits = Logits(input, images.Count, height, width);
        if (flip)
        {
            var mirrored = (float[])input.Clone();
            for (int row = 0; row < mirrored.Length / width; row++)
                mirrored.AsSpan(row * width, width).Reverse();
            float[] back = Logits(mirrored, images.Count, height, width);
            for (int row = 0; row < logits.Length / width; row++)
                for (int x = 0; x < width; x++)
                    logits[row * width + x] = (logits[row * width + x] + back[row * width + width - 1 - x]) / 2;
        }
        int classes = 2 * height * width;
        var results = new RoadProbability[images.Count];
        for (int i = 0; i < images.Count; i++)
            results[i] = new RoadProbability(images[i].Width, images[i].Height,
                ManagedTransforms.RoadBytes(new ArraySegment<float>(logits, i * classes, classes), height, width, images[i].Height, images[i].Width));
        return results;
    }

    /// <summary>Logits [N, 2, H, W] of a normalised batch [N, 3, H, W].</summary>
    float[] Logits(float[] batch, int n, int height, int width)
    {
        using var value = OrtValue.CreateTensorValueFromMemory(batch, [n, 3, height, width]);
        using var outputs = _session.Run(_run, ["image"], [value], ["logits"]);
        long[] shape = outputs[0].GetTensorTypeAndShape().Shape;
        if (shape is not [_, 2, _, _] || shape[0] != n || shape[2] != height || shape[3] != width)
            throw new InvalidOperationException($"the model gave logits [{string.Join(", ", shape)}] for an input [{n}, 3, {height}, {width}]; expected [{n}, 2, {height}, {width}]");
        return outputs[0].GetTensorDataAsSpan<float>().ToArray();
    }

    static string FirstLine(string text) => text.Split('\n', 2)[0].Trim();

    /// <summary>What the CUDA provider lacks: its package (the CPU build is referenced), or the CUDA libraries it links.</summary>
    static string WhyNoCuda(Exception e)
    {
        string folder = Path.GetDirectoryName(typeof(OnnxRoadNetwork).Assembly.Location) ?? ".";
        bool providerThere = File.Exists(Path.Combine(folder, "libonnxruntime_providers_cuda.so")) ||
                             File.Exists(Path.Combine(folder, "runtimes", "linux-x64", "native", "libonnxruntime_providers_cuda.so"));
        if (!providerThere)
            return "this build has ONNX Runtime's CPU package; build with -p:OnnxRuntimeGpu=true for Microsoft.ML.OnnxRuntime.Gpu.Linux";
        var missing = CudaLibraries.Where(name => !System.Runtime.InteropServices.NativeLibrary.TryLoad(name, out _)).ToList();
        return missing.Count > 0
            ? $"{string.Join(", ", missing)} not found (ONNX Runtime {OrtEnv.Instance().GetVersionString()}'s CUDA build needs the CUDA 13 runtime, cuBLAS, cuRAND and cuDNN 9 on the library path, and an NVIDIA driver)"
            : FirstLine(e.Message);
    }

    /// <summary>The CUDA libraries ONNX Runtime 1.32's CUDA provider links (readelf -d libonnxruntime_providers_cuda.so).</summary>
    static readonly string[] CudaLibraries = ["libcuda.so.1", "libcudart.so.13", "libcublas.so.13", "libcublasLt.so.13", "libcurand.so.10"];

    /// <summary>
    /// ONNX Runtime's own log goes to standard error in colour from warnings up (a failed CUDA provider logs a screenful); seg says
    /// what matters in one line, so the log shows fatal errors only unless <c>SEG_DEBUG=1</c>.
    /// </summary>
    static void QuietEnvironment()
    {
        if (OrtEnv.IsCreated)
            return;
        var options = new EnvironmentCreationOptions
        {
            logId = "seg",
            logLevel = Environment.GetEnvironmentVariable("SEG_DEBUG") == "1" ? OrtLoggingLevel.ORT_LOGGING_LEVEL_WARNING : OrtLoggingLevel.ORT_LOGGING_LEVEL_FATAL,
        };
        OrtEnv.CreateInstanceWithOptions(ref options);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _session.Dispose();
        _run.Dispose();
    }
}
