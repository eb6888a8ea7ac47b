namespace SegServe;

/// <summary>How <see cref="InferenceServer"/> serves a model.</summary>
/// <param name="Model">A run folder (<c>best.safetensors</c> + <c>options.json</c>, what a Training Job writes to <c>/opt/ml/model</c>) or a checkpoint file.</param>
/// <param name="Host">Address to listen on; SageMaker needs <c>0.0.0.0</c>.</param>
/// <param name="Port">Port to listen on; 0 takes a free one.</param>
/// <param name="MaxBodyBytes">Largest request body, at least 1 MB; SageMaker's real-time limit is 6 MB.</param>
/// <param name="MaxMegapixels">Largest image, read from its header before any decoding. KITTI's images are 0.47 megapixels.</param>
/// <param name="QueueLimit">Requests that may wait for the model; one more is answered 429.</param>
/// <param name="Workers">Model passes at once (each holds one image's activations).</param>
/// <param name="Device">auto, cpu, cuda or cuda:N, as <c>seg predict</c>.</param>
/// <param name="Precision">fp32 or bf16 (bf16 only behind the run-time check), as <c>seg predict</c>.</param>
/// <param name="Size">Network input HxW; null takes the run's training size, as <c>seg predict</c>.</param>
/// <param name="Timeout">How long one request may wait and run, from its arrival; SageMaker gives up on a real-time request after 60 s.</param>
/// <param name="ShutdownGrace">After SIGTERM, how long requests in flight may take; SageMaker kills the container 30 s after SIGTERM.</param>
/// <param name="MaxResponseBytes">Largest answer; SageMaker's real-time limit is 6 MB.</param>
/// <param name="BatchStrategy">What <c>/execution-parameters</c> says: <c>SINGLE_RECORD</c> or <c>MULTI_RECORD</c>.</param>
/// <param name="MaxConnections">Open connections Kestrel keeps at once; more are closed as they arrive.</param>
/// <param name="Threads">Requests decoded, predicted and encoded at once, each on a thread of its own; null: the CPU count (at least <paramref name="Workers"/>), so one request decodes while another is in the model.</param>
/// <param name="Backend">libtorch or onnxruntime, as <c>seg predict --backend</c>; null: <see cref="SegHelpers.Evaluation.RoadPredictor.ServingBackend"/> (ONNX Runtime for fp32 on the CPU).</param>
/// <param name="ConcurrentTransforms">What <c>/execution-parameters</c> says for MaxConcurrentTransforms; null says <see cref="Workers"/>.</param>
public sealed record ServeOptions(
    string Model = ServeOptions.SageMakerModelDir,
    string Host = "0.0.0.0",
    int Port = ServeOptions.SageMakerPort,
    long MaxBodyBytes = 6 * ServeOptions.MB,
    double MaxMegapixels = 4,
    int QueueLimit = 32,
    int Workers = 1,
    string Device = "auto",
    string Precision = "fp32",
    (int Height, int Width)? Size = null,
    TimeSpan? Timeout = null,
    TimeSpan? ShutdownGrace = null,
    long MaxResponseBytes = 6 * ServeOptions.MB,
    string BatchStrategy = "SINGLE_RECORD",
    int MaxConnections = 1000,
    int? ConcurrentTransforms = null,
    int? Threads = null,
    string? Backend = null)
{
    /// <summary>One megabyte as SageMaker counts it (2^20 bytes).</summary>
    public const long MB = 1024 * 1024;

    /// <summary>Where SageMaker unpacks the model archive.</summary>
    public const string SageMakerModelDir = "/opt/ml/model";

    /// <summary>The port SageMaker's contract uses unless <c>SAGEMAKER_BIND_TO_PORT</c> says otherwise.</summary>
    public const int SageMakerPort = 8080;

    /// <summary>The batch strategies Batch Transform knows.</summary>
    public static readonly IReadOnlyList<string> BatchStrategies = ["SINGLE_RECORD", "MULTI_RECORD"];

    /// <summary><see cref="Timeout"/> with its default: 60 s, SageMaker's real-time invocation timeout.</summary>
    public TimeSpan RequestTimeout => Timeout ?? TimeSpan.FromSeconds(60);

    /// <summary><see cref="ShutdownGrace"/> with its default: 25 s, inside SageMaker's 30 s between SIGTERM and SIGKILL.</summary>
    public TimeSpan Grace => ShutdownGrace ?? TimeSpan.FromSeconds(25);

    /// <summary><see cref="Threads"/> with its default.</summary>
    public int WorkThreads => Threads ?? Math.Max(Workers, Environment.ProcessorCount);

    /// <summary>Requests admitted at once: those worked on and those waiting.</summary>
    public int Capacity => WorkThreads + QueueLimit;

    /// <summary>Batch Transform's MaxConcurrentTransforms for this server.</summary>
    public int MaxConcurrentTransforms => ConcurrentTransforms ?? Workers;

    /// <summary>
    /// Batch Transform's MaxPayloadInMB for this server: a whole number of MB no larger than the body limit, and small enough
    /// that concurrency × payload stays within SageMaker's 100 MB.
    /// </summary>
    public int MaxPayloadInMB => (int)Math.Min(MaxBodyBytes / MB, 100 / MaxConcurrentTransforms);

    /// <summary>Throws <see cref="ArgumentException"/> naming the first option out of range.</summary>
    public void Validate()
    {
        if (Port is < 0 or > 65535)
            throw new ArgumentException($"--port must be 0–65535, not {Port}");
        if (MaxBodyBytes < MB)
            throw new ArgumentException($"--max-body-mb must be at least 1 (Batch Transform's MaxPayloadInMB is a whole number of MB), not {MaxBodyBytes / (double)MB:0.###}");
        if (MaxResponseBytes < 64 * 1024)
            throw new ArgumentException("--max-response-mb must be at least 0.0625 (64 kB)");
        if (MaxMegapixels <= 0)
            throw new ArgumentException("--max-megapixels must be positive");
        if (QueueLimit < 0)
            throw new ArgumentException("--queue must be 0 or more");
        if (Workers is < 1 or > 100)
            throw new ArgumentException($"--workers must be 1–100 (Batch Transform sends at most 100 requests at once), not {Workers}");
        if (WorkThreads < Workers)
            throw new ArgumentException($"--threads ({WorkThreads}) must be at least --workers ({Workers})");
        if (RequestTimeout <= TimeSpan.Zero)
            throw new ArgumentException("--timeout must be positive");
        if (Grace < TimeSpan.Zero)
            throw new ArgumentException("--shutdown-grace must be 0 or more");
        if (!BatchStrategies.Contains(BatchStrategy))
            throw new ArgumentException($"the batch strategy must be {string.Join(" or ", BatchStrategies)}, not '{BatchStrategy}'");
        if (MaxConcurrentTransforms is < 1 or > 100)
            throw new ArgumentException($"MaxConcurrentTransforms must be 1–100, not {MaxConcurrentTransforms}");
        if (MaxConcurrentTransforms > Capacity)
            throw new ArgumentException($"{MaxConcurrentTransforms} concurrent transforms would be answered 429 past --workers + --queue = {Capacity}; raise --queue");
        if (MaxConnections < Capacity + 8)
            throw new ArgumentException($"--max-connections must leave room for /ping beside every admitted request: at least {Capacity + 8}, not {MaxConnections}");
    }
}
