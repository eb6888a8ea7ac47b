namespace SegServe;

/// <summary>How <see cref="InferenceServer"/> serves a model.</summary>
/// <param name="Model">A run folder (<c>best.safetensors</c> + <c>options.json</c>, what a Training Job writes to <c>/opt/ml/model</c>) or a checkpoint file.</param>
/// <param name="Host">Address to listen on; SageMaker needs <c>0.0.0.0</c>.</param>
/// <param name="Port">Port to listen on; 0 takes a free one.</param>
/// <param name="MaxBodyBytes">Largest request body; SageMaker's real-time limit is 6 MB.</param>
/// <param name="MaxMegapixels">Largest image, read from its header before any decoding.</param>
/// <param name="QueueLimit">Requests that may wait for the model; one more is answered 429.</param>
/// <param name="Workers">Model passes run at once (each holds one image's activations).</param>
/// <param name="Device">auto, cpu, cuda or cuda:N, as <c>seg predict</c>.</param>
/// <param name="Precision">fp32 or bf16 (bf16 only behind the run-time check), as <c>seg predict</c>.</param>
/// <param name="Size">Network input HxW; null takes the run's training size, as <c>seg predict</c>.</param>
public sealed record ServeOptions(
    string Model = ServeOptions.SageMakerModelDir,
    string Host = "0.0.0.0",
    int Port = ServeOptions.SageMakerPort,
    long MaxBodyBytes = 6 * 1024 * 1024,
    double MaxMegapixels = 16,
    int QueueLimit = 32,
    int Workers = 1,
    string Device = "auto",
    string Precision = "fp32",
    (int Height, int Width)? Size = null)
{
    /// <summary>Where SageMaker unpacks the model archive.</summary>
    public const string SageMakerModelDir = "/opt/ml/model";

    /// <summary>The port SageMaker's contract uses unless <c>SAGEMAKER_BIND_TO_PORT</c> says otherwise.</summary>
    public const int SageMakerPort = 8080;

    /// <summary><c>SAGEMAKER_BIND_TO_PORT</c> where set, else 8080.</summary>
    public static int DefaultPort =>
        int.TryParse(Environment.GetEnvironmentVariable("SAGEMAKER_BIND_TO_PORT"), out int port) && port is > 0 and < 65536 ? port : SageMakerPort;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first option out of range.</summary>
    public void Validate()
    {
        if (Port is < 0 or > 65535)
            throw new ArgumentException($"--port must be 0–65535, not {Port}");
        if (MaxBodyBytes < 1)
            throw new ArgumentException("--max-body-mb must be positive");
        if (MaxMegapixels <= 0)
            throw new ArgumentException("--max-megapixels must be positive");
        if (QueueLimit < 0)
            throw new ArgumentException("--queue must be 0 or more");
        if (Workers < 1)
            throw new ArgumentException("--workers must be at least 1");
    }
}
