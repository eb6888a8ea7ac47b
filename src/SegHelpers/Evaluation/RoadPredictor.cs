using SegHelpers.Data;
using SegHelpers.Model;
using SegHelpers.Model.Weights;
using SegHelpers.Native;
using SegHelpers.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace SegHelpers.Evaluation;

/// <summary>How <see cref="RoadPredictor"/> runs the model.</summary>
/// <param name="Height">Network input height; images are resized to Height×Width and the result back to their own size.</param>
/// <param name="Width">Network input width.</param>
/// <param name="Flip">Average the logits with those of the mirrored image (test-time augmentation).</param>
/// <param name="BatchSize">Images per forward pass.</param>
/// <param name="Device"><c>auto</c> (CUDA when present), <c>cpu</c> or <c>cuda</c>.</param>
/// <param name="Precision"><c>fp32</c>, or <c>bf16</c>: the encoder in bfloat16, the decoder in fp32 (fast on CPUs with AVX512-BF16 or AMX
/// and on CUDA; see docs/performance.md for its speed and its effect on road IoU). bf16 is used only after
/// <see cref="LowPrecisionCheck"/> finds libtorch's bf16 kernels right on this device; otherwise the predictor warns and runs fp32.</param>
/// <param name="Backend">What runs the network: <c>libtorch</c> (a run folder or checkpoint) or <c>onnxruntime</c> (a <c>.onnx</c> file from <c>seg weights export --format onnx</c>, fp32).</param>
public sealed record PredictionOptions(int Height = 160, int Width = 576, bool Flip = false, int BatchSize = 4, string Device = "auto", string Precision = "fp32", string Backend = "libtorch")
{
    /// <summary>The precisions a predictor accepts.</summary>
    public static readonly IReadOnlyList<string> Precisions = ["fp32", "bf16"];

    /// <summary>What runs the network: <c>libtorch</c> (a run folder or checkpoint) or <c>onnxruntime</c> (a <c>.onnx</c> file).</summary>
    public static readonly IReadOnlyList<string> Backends = ["libtorch", "onnxruntime"];
}

/// <summary>A road probability map at an image's own size, quantised to 8 bits as KITTI submissions are.</summary>
/// <param name="Width">Image width.</param>
/// <param name="Height">Image height.</param>
/// <param name="Values">Row-major road probability × 255.</param>
public sealed record RoadProbability(int Width, int Height, byte[] Values)
{
    /// <summary>The 8-bit value from which a pixel is road: p ≥ 0.5.</summary>
    public const byte Threshold = 128;

    /// <summary>Class per pixel (<see cref="RoadLabel.Road"/> where p ≥ <paramref name="threshold"/>/255, else <see cref="RoadLabel.NonRoad"/>).</summary>
    public byte[] Classes(byte threshold = Threshold) => Decide(Values, threshold);

    /// <summary>Class per pixel of an 8-bit road probability map, as <see cref="Classes"/>.</summary>
    public static byte[] Decide(byte[] values, byte threshold = Threshold) => [.. values.Select(v => v >= threshold ? RoadLabel.Road : RoadLabel.NonRoad)];
}

/// <summary>
/// Runs a trained FCN on whole images of any size: resize to the network size, ImageNet normalisation,
/// softmax over the logits resized bilinearly back to the image's size, optional flip averaging.
/// </summary>
public sealed class RoadPredictor : IDisposable
{
    readonly IRoadNetwork _network;

    /// <summary>Where the model runs, as <see cref="PredictionOptions.Device"/> resolved it (<c>cpu</c>, <c>cuda:0</c>).</summary>
    public string Device => _network.Device;

    /// <summary>The model and what runs it, in one line.</summary>
    public string Description => _network.Description;

    /// <summary>Wraps a model (which the predictor then owns).</summary>
    public RoadPredictor(Fcn model, PredictionOptions options) : this(model, options, LowPrecisionCheck.Tolerance)
    {
    }

    internal RoadPredictor(Fcn model, PredictionOptions options, double lowPrecisionTolerance)
        : this(new TorchRoadNetwork(model, options, lowPrecisionTolerance), options)
    {
    }

    /// <summary>Predicts with <paramref name="network"/> (which the predictor then owns), whichever backend runs it.</summary>
    public RoadPredictor(IRoadNetwork network, PredictionOptions options)
    {
        options = options with { BatchSize = Math.Max(1, options.BatchSize) };
        try
        {
            Fcn.CheckFits(options.BatchSize, options.Height, options.Width, network.WidthDivisor);
        }
        catch
        {
            network.Dispose();
            throw;
        }
        _network = network;
        Options = options with { Precision = network.Precision };
    }

    /// <summary>The options in use; <see cref="PredictionOptions.Precision"/> is the one actually used.</summary>
    public PredictionOptions Options { get; }

    /// <summary>Why the precision asked for was not used (also written to standard error), or null.</summary>
    public string? Warning => _network.Warning;

    /// <summary>The TorchSharp model of the libtorch backend.</summary>
    /// <exception cref="InvalidOperationException">Another backend runs the network.</exception>
    public Fcn Model => (_network as TorchRoadNetwork)?.Model ?? throw new InvalidOperationException($"{_network.Description} has no TorchSharp model");

    /// <summary>
    /// Loads a run folder's <c>best.safetensors</c> (or any FCN checkpoint file) with <paramref name="options"/>,
    /// by default <see cref="DefaultOptions"/>.
    /// </summary>
    public static RoadPredictor Load(string modelPath, PredictionOptions? options = null)
    {
        options ??= DefaultOptions(modelPath);
        return options.Backend switch
        {
            "libtorch" => LoadTorch(modelPath, options),
            "onnxruntime" when IsOnnx(modelPath) || !IsCheckpoint(modelPath) => new RoadPredictor(Onnx.OnnxRoadNetwork.Load(modelPath, options), options),
            "onnxruntime" => LoadExported(modelPath, options),
            _ => throw new ArgumentException($"backend must be {string.Join(" or ", PredictionOptions.Backends)}, not '{options.Backend}'"),
        };
    }

    static RoadPredictor LoadTorch(string modelPath, PredictionOptions options)
    {
        TorchNative.EnsureLoadable();
        return new RoadPredictor(FcnCheckpoint.Load(CheckpointFile(modelPath)).Model, options);
    }

    /// <summary>A checkpoint exported to ONNX in memory and run on ONNX Runtime; libtorch is needed only to read it.</summary>
    static RoadPredictor LoadExported(string modelPath, PredictionOptions options)
    {
        TorchNative.EnsureLoadable();
        using var model = FcnCheckpoint.Load(CheckpointFile(modelPath)).Model;
        return new RoadPredictor(Onnx.OnnxRoadNetwork.FromModel(model, options), options);
    }

    /// <summary>
    /// The backend <c>seg serve</c> runs a model on unless told: ONNX Runtime for fp32 on the CPU (a checkpoint is exported at
    /// load), where it answered 1.17–1.21× faster than libtorch (docs/performance.md); libtorch for bf16 and for CUDA, which the
    /// libtorch image runs and ONNX Runtime's CPU package does not.
    /// </summary>
    public static string ServingBackend(string modelPath, PredictionOptions options)
    {
        if (IsOnnx(modelPath))
            return "onnxruntime";
        if (options.Precision != "fp32")
            return "libtorch";
        string device = options.Device.Trim().ToLowerInvariant();
        if (device == "cpu")
            return "onnxruntime";
        if (device != "auto")
            return "libtorch";
        TorchNative.EnsureLoadable();
        return Devices.Resolve(device).type == DeviceType.CPU ? "onnxruntime" : "libtorch";
    }

    /// <summary>Options for a model: the network size is its run's training size (from <c>options.json</c>), else 160×576.</summary>
    /// <remarks>For a <c>.onnx</c> file, ONNX Runtime's (<see cref="Onnx.OnnxRoadNetwork.DefaultOptions"/>); a checkpoint keeps its run's size on either backend.</remarks>
    public static PredictionOptions DefaultOptions(string modelPath, string? backend = null)
    {
        if (IsOnnx(modelPath) || (backend == "onnxruntime" && !IsCheckpoint(modelPath)))
            return Onnx.OnnxRoadNetwork.DefaultOptions(modelPath);
        var run = new RunFolder(Path.GetDirectoryName(CheckpointFile(modelPath))!);
        var options = run.HasRun ? new PredictionOptions(run.ReadInfo().Options.Height, run.ReadInfo().Options.Width) : new PredictionOptions();
        return options with { Backend = backend ?? "libtorch" };
    }

    /// <summary>A <c>.onnx</c> file, or a folder holding one and no checkpoint.</summary>
    static bool IsOnnx(string modelPath) =>
        modelPath.EndsWith(".onnx", StringComparison.OrdinalIgnoreCase) ||
        (Directory.Exists(modelPath) && !File.Exists(new RunFolder(modelPath).BestCheckpoint) && Directory.EnumerateFiles(modelPath, "*.onnx").Any());

    /// <summary>A run folder with its best checkpoint, or a file that is not <c>.onnx</c>.</summary>
    static bool IsCheckpoint(string modelPath) =>
        Directory.Exists(modelPath) ? File.Exists(new RunFolder(modelPath).BestCheckpoint) : File.Exists(modelPath) && !IsOnnx(modelPath);

    static string CheckpointFile(string modelPath)
    {
        string file = Path.GetFullPath(Directory.Exists(modelPath) ? new RunFolder(modelPath).BestCheckpoint : modelPath);
        if (!File.Exists(file))
            throw new BadInputException(file, "not found", Directory.Exists(modelPath)
                ? "the run has not finished an epoch yet; train it (seg train) or pass a checkpoint file"
                : "pass a run folder or a .safetensors checkpoint written by seg train");
        return file;
    }

    /// <summary>The road probability map of one image.</summary>
    public RoadProbability Predict(RgbImage image) => PredictBatch([image], Options.Flip).Single();

    /// <summary>The road probability map of one image, with or without flip test-time augmentation whatever <see cref="Options"/> says.</summary>
    public RoadProbability Predict(RgbImage image, bool flip) => PredictBatch([image], flip).Single();

    /// <summary>Road probability maps, batched, in order.</summary>
    public IEnumerable<RoadProbability> PredictMany(IEnumerable<RgbImage> images)
    {
        foreach (var chunk in images.Chunk(Options.BatchSize))
            foreach (var result in PredictBatch(chunk, Options.Flip))
                yield return result;
    }

    IReadOnlyList<RoadProbability> PredictBatch(RgbImage[] images, bool flip) => _network.Predict(images, Options.Height, Options.Width, flip);

    /// <summary>
    /// Logits [N, C, H, W] as 8-bit road probabilities [N, H, W]: softmax, road channel, × 255, rounded, the way KITTI
    /// submission maps store them. Training's validation MaxF and the evaluation both quantise here.
    /// </summary>
    public static Tensor RoadBytes(Tensor logits) => RoadBytes(logits, inPlace: false);

    internal static Tensor RoadBytes(Tensor logits, bool inPlace)
    {
        if (!inPlace)
            return logits.softmax(1)[.., RoadLabel.Road].Times(255).round().Clamped(0, 255).to(ScalarType.Byte);
        // The same kernels in the same order, rounding in place: bit for bit the result above.
        Tensor scaled;
        using (var probabilities = logits.softmax(1))
        using (var road = probabilities[.., RoadLabel.Road])
            scaled = road.Times(255);
        using (scaled)
        {
            scaled.round_();
            using var lo = 0.0.ToScalar();
            using var hi = 255.0.ToScalar();
            scaled.clamp_(lo, hi);
            return scaled.to(ScalarType.Byte);
        }
    }

    /// <inheritdoc />
    public void Dispose() => _network.Dispose();
}
