using System.Globalization;

namespace SegServe;

/// <summary>
/// The environment variables SageMaker sets for an inference container, read into the defaults of <see cref="ServeOptions"/>
/// (an option given on the command line still wins). Endpoints set the port and timeout; Batch Transform sets the payload,
/// the concurrency and the batch strategy from the job's own settings.
/// </summary>
public static class SageMakerEnvironment
{
    /// <summary>The port to listen on (inference pipelines).</summary>
    public const string BindToPort = "SAGEMAKER_BIND_TO_PORT";

    /// <summary>Seconds a request may take, waiting and running.</summary>
    public const string ModelServerTimeout = "SAGEMAKER_MODEL_SERVER_TIMEOUT";

    /// <summary>Requests worked on at once.</summary>
    public const string ModelServerWorkers = "SAGEMAKER_MODEL_SERVER_WORKERS";

    /// <summary>Batch Transform's MaxPayloadInMB: the largest record, in MB.</summary>
    public const string MaxPayloadInMB = "SAGEMAKER_MAX_PAYLOAD_IN_MB";

    /// <summary>Batch Transform's MaxConcurrentTransforms: requests it sends at once.</summary>
    public const string MaxConcurrentTransforms = "SAGEMAKER_MAX_CONCURRENT_TRANSFORMS";

    /// <summary>Batch Transform's BatchStrategy: <c>SINGLE_RECORD</c> or <c>MULTI_RECORD</c>.</summary>
    public const string BatchStrategy = "SAGEMAKER_BATCH_STRATEGY";

    /// <summary>Every variable read here.</summary>
    public static readonly IReadOnlyList<string> Names = [BindToPort, ModelServerTimeout, ModelServerWorkers, MaxPayloadInMB, MaxConcurrentTransforms, BatchStrategy];

    /// <summary>The server's defaults under <paramref name="variable"/> (by default the process environment).</summary>
    /// <exception cref="ArgumentException">A variable is set to a value SageMaker would not set, named with the value.</exception>
    public static ServeOptions Defaults(Func<string, string?>? variable = null)
    {
        variable ??= Environment.GetEnvironmentVariable;
        var options = new ServeOptions();
        if (Whole(variable, BindToPort, 1, 65535) is { } port)
            options = options with { Port = port };
        if (Whole(variable, ModelServerTimeout, 1, 3600) is { } seconds)
            options = options with { Timeout = TimeSpan.FromSeconds(seconds) };
        if (Whole(variable, ModelServerWorkers, 1, 100) is { } workers)
            options = options with { Workers = workers };
        int? payload = Whole(variable, MaxPayloadInMB, 1, 100);
        if (payload is { } mb)
            options = options with { MaxBodyBytes = mb * ServeOptions.MB, MaxResponseBytes = Math.Max(options.MaxResponseBytes, mb * ServeOptions.MB) };
        if (Whole(variable, MaxConcurrentTransforms, 1, 100) is { } concurrency)
        {
            if (concurrency * (payload ?? 6) > 100)
                throw new ArgumentException($"{MaxConcurrentTransforms} ({concurrency}) × {MaxPayloadInMB} ({payload ?? 6}) is over 100 MB, which SageMaker does not allow; lower either");
            options = options with { ConcurrentTransforms = concurrency, QueueLimit = Math.Max(options.QueueLimit, concurrency - options.WorkThreads) };
        }
        if (variable(BatchStrategy) is { Length: > 0 } strategy)
        {
            if (!ServeOptions.BatchStrategies.Contains(strategy))
                throw new ArgumentException($"{BatchStrategy} must be {string.Join(" or ", ServeOptions.BatchStrategies)}, not '{strategy}'");
            options = options with { BatchStrategy = strategy };
        }
        return options;
    }

    static int? Whole(Func<string, string?> variable, string name, int min, int max)
    {
        if (variable(name) is not { Length: > 0 } text)
            return null;
        if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int value) || value < min || value > max)
            throw new ArgumentException($"{name} must be a whole number {min}–{max}, not '{text}'");
        return value;
    }
}
