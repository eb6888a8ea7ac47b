using System.CommandLine;
using SegHelpers.Evaluation;
using SegServe;

namespace SegCli.Commands;

/// <summary><c>seg serve</c>: the SageMaker inference container's server (the image's <c>serve</c> entry).</summary>
static class ServeCommand
{
    public static Command Create()
    {
        var d = new ServeOptions();
        var model = new Option<string>("--model") { DefaultValueFactory = _ => ServeOptions.SageMakerModelDir, Description = "Run folder (best.safetensors + options.json, what a Training Job writes) or checkpoint file." };
        var host = new Option<string>("--host") { DefaultValueFactory = _ => d.Host, Description = "Address to listen on." };
        var port = new Option<int?>("--port") { Description = $"Port to listen on (default: {SageMakerEnvironment.BindToPort}, else {ServeOptions.SageMakerPort}; 0 takes a free one)." };
        var maxBody = new Option<double?>("--max-body-mb") { Description = $"Largest request body in MB, at least 1 (default: {SageMakerEnvironment.MaxPayloadInMB}, else {d.MaxBodyBytes / ServeOptions.MB}, SageMaker's real-time limit)." };
        var maxResponse = new Option<double?>("--max-response-mb") { Description = $"Largest answer in MB; a larger one is refused with 406 naming an Accept that fits (default: {d.MaxResponseBytes / ServeOptions.MB}, SageMaker's real-time limit, or {SageMakerEnvironment.MaxPayloadInMB} if larger)." };
        var maxPixels = new Option<double>("--max-megapixels") { DefaultValueFactory = _ => d.MaxMegapixels, Description = $"Largest image, checked in its header before decoding (KITTI's are 0.47, 1920x1080 is 2.1). Each worker holds about 20 bytes a pixel of it." };
        var queue = new Option<int?>("--queue") { Description = $"Requests that may wait for a thread; more are answered 429 before their body is read (default: {d.QueueLimit}, or what {SageMakerEnvironment.MaxConcurrentTransforms} needs)." };
        var workers = new Option<int?>("--workers") { Description = $"Model passes at once (default: {SageMakerEnvironment.ModelServerWorkers}, else {d.Workers})." };
        var threads = new Option<int?>("--threads") { Description = "Requests decoded, predicted and encoded at once, each on a thread of its own, --workers of them in the model at a time (default: the CPU count)." };
        var timeout = new Option<double?>("--timeout") { Description = $"Seconds a request may wait and run; past it 503 (still waiting) or 504 (running) (default: {SageMakerEnvironment.ModelServerTimeout}, else {d.RequestTimeout.TotalSeconds:0}, SageMaker's real-time timeout)." };
        var grace = new Option<double>("--shutdown-grace") { DefaultValueFactory = _ => d.Grace.TotalSeconds, Description = "Seconds the requests in flight may take after SIGTERM; the rest are answered 503 (SageMaker kills the container 30 s after SIGTERM)." };
        var connections = new Option<int>("--max-connections") { DefaultValueFactory = _ => d.MaxConnections, Description = "Open connections at once; more are closed as they arrive." };
        var device = Cli.DeviceOption();
        var backend = Cli.BackendOption("onnxruntime for fp32 on the CPU (a checkpoint is exported to ONNX at load; faster here, see docs/performance.md), libtorch for bf16 or CUDA");
        var precision = new Option<string>("--precision") { DefaultValueFactory = _ => "fp32", Description = $"{Cli.Keywords(PredictionOptions.Precisions)}: bf16 only where the run-time check trusts it, as seg predict." };
        var size = new Option<string?>("--size") { Description = "Network input HxW (default: the run's training size)." };
        var command = new Command("serve", "Serve a trained model over HTTP under SageMaker's inference-container contract: GET /ping, POST /invocations (a PNG or JPEG; Accept picks the probability map PNG, image/png;output=mask, image/jpeg overlay or application/json), GET /execution-parameters. " +
                                           $"Reads {string.Join(", ", SageMakerEnvironment.Names)} where set.")
        {
            model, host, port, maxBody, maxResponse, maxPixels, queue, workers, threads, timeout, grace, connections, device, precision, size, backend,
        };
        command.SetAction(parse => Cli.Run(() =>
        {
            var env = SageMakerEnvironment.Defaults();
            var options = env with
            {
                Model = parse.GetValue(model)!,
                Host = parse.GetValue(host)!,
                Port = parse.GetValue(port) ?? env.Port,
                MaxBodyBytes = parse.GetValue(maxBody) is { } body ? (long)(body * ServeOptions.MB) : env.MaxBodyBytes,
                MaxResponseBytes = parse.GetValue(maxResponse) is { } answer ? (long)(answer * ServeOptions.MB) : env.MaxResponseBytes,
                MaxMegapixels = parse.GetValue(maxPixels),
                QueueLimit = parse.GetValue(queue) ?? env.QueueLimit,
                Workers = parse.GetValue(workers) ?? env.Workers,
                Threads = parse.GetValue(threads) ?? env.Threads,
                Timeout = parse.GetValue(timeout) is { } seconds ? TimeSpan.FromSeconds(seconds) : env.Timeout,
                ShutdownGrace = TimeSpan.FromSeconds(parse.GetValue(grace)),
                MaxConnections = parse.GetValue(connections),
                Device = parse.GetValue(device)!,
                Precision = parse.GetValue(precision)!,
                Size = parse.GetValue(size) is { } s ? Cli.ParseSize(s) : null,
                Backend = parse.GetValue(backend),
            };
            if (!PredictionOptions.Precisions.Contains(options.Precision))
                throw new ArgumentException($"--precision must be {string.Join(" or ", PredictionOptions.Precisions)}, not '{options.Precision}'");
            return Serve(options).GetAwaiter().GetResult();
        }));
        return command;
    }

    static async Task<int> Serve(ServeOptions options)
    {
        await using var server = await InferenceServer.StartAsync(options);
        var stopped = server.WaitForShutdownAsync();
        await Task.WhenAny(server.Loaded, stopped);
        if (server.Loaded.IsFaulted)
        {
            // A model that cannot load ends the process (exit 2 for a bad model folder): SageMaker then reports the container as failed.
            await server.StopAsync();
            await server.Loaded;
        }
        await stopped;
        return 0;
    }
}
