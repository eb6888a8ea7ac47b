using System.CommandLine;
using SegHelpers.Evaluation;
using SegServe;

namespace SegCli.Commands;

/// <summary><c>seg serve</c>: the SageMaker inference container's server (the image's <c>serve</c> entry).</summary>
static class ServeCommand
{
    public static Command Create()
    {
        var defaults = new ServeOptions();
        var model = new Option<string>("--model") { DefaultValueFactory = _ => ServeOptions.SageMakerModelDir, Description = "Run folder (best.safetensors + options.json, what a Training Job writes) or checkpoint file." };
        var host = new Option<string>("--host") { DefaultValueFactory = _ => defaults.Host, Description = "Address to listen on." };
        var port = new Option<int>("--port") { DefaultValueFactory = _ => ServeOptions.DefaultPort, Description = "Port to listen on (default: SAGEMAKER_BIND_TO_PORT, else 8080; 0 takes a free one)." };
        var maxBody = new Option<double>("--max-body-mb") { DefaultValueFactory = _ => defaults.MaxBodyBytes / 1048576.0, Description = "Largest request body in MB (SageMaker real-time endpoints: 6)." };
        var maxPixels = new Option<double>("--max-megapixels") { DefaultValueFactory = _ => defaults.MaxMegapixels, Description = "Largest image, checked in its header before decoding." };
        var queue = new Option<int>("--queue") { DefaultValueFactory = _ => defaults.QueueLimit, Description = "Requests that may wait for the model; more are answered 429." };
        var workers = new Option<int>("--workers") { DefaultValueFactory = _ => defaults.Workers, Description = "Model passes at once (each holds one image's activations)." };
        var device = new Option<string>("--device") { DefaultValueFactory = _ => "auto", Description = $"{Cli.Keywords(SegHelpers.Native.Devices.Names)}." };
        var precision = new Option<string>("--precision") { DefaultValueFactory = _ => "fp32", Description = $"{Cli.Keywords(PredictionOptions.Precisions)}: bf16 only where the run-time check trusts it, as seg predict." };
        var size = new Option<string?>("--size") { Description = "Network input HxW (default: the run's training size)." };
        var command = new Command("serve", "Serve a trained model over HTTP under SageMaker's inference-container contract: GET /ping, POST /invocations (an image; Accept picks the probability map PNG, image/png;output=mask, image/jpeg overlay or application/json), GET /execution-parameters.")
        {
            model, host, port, maxBody, maxPixels, queue, workers, device, precision, size,
        };
        command.SetAction(parse => Cli.Run(() =>
        {
            var options = new ServeOptions(parse.GetValue(model)!, parse.GetValue(host)!, parse.GetValue(port),
                (long)(parse.GetValue(maxBody) * 1048576), parse.GetValue(maxPixels), parse.GetValue(queue), parse.GetValue(workers),
                parse.GetValue(device)!, parse.GetValue(precision)!, parse.GetValue(size) is { } s ? Cli.ParseSize(s) : null);
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
        Console.WriteLine("stopped: every request in flight was answered");
        return 0;
    }
}
