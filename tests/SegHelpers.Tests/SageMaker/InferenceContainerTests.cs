using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text.Json;
using SegHelpers.Data;
using SegHelpers.Tests.Cli;

namespace SegHelpers.Tests.SageMaker;

/// <summary>
/// The inference side of the container: <c>environment/sagemaker/serve</c> (what <c>docker run IMAGE serve</c> runs) serving
/// the model a Training Job left in <c>/opt/ml/model</c>, on <c>SAGEMAKER_BIND_TO_PORT</c>, and the example request files.
/// </summary>
public class InferenceContainerTests
{
    static JsonElement Example(string name) => JsonDocument.Parse(File.ReadAllText(Repository.Path($"environment/sagemaker/{name}"))).RootElement;

    static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    [Fact]
    public void The_image_tells_sagemaker_it_takes_the_port_and_the_readme_names_every_variable_the_server_reads()
    {
        string dockerfile = File.ReadAllText(Repository.Path("environment/sagemaker/Dockerfile"));
        string readme = File.ReadAllText(Repository.Path("README.md"));
        string deploying = readme[readme.IndexOf("### Deploying", StringComparison.Ordinal)..];
        deploying = deploying[..deploying.IndexOf("\n## ", StringComparison.Ordinal)];

        Assert.Matches(@"(?m)^LABEL com\.amazonaws\.sagemaker\.capabilities\.accept-bind-to-port=true$", dockerfile);
        Assert.NotEmpty(SegServe.SageMakerEnvironment.Names);
        Assert.All(SegServe.SageMakerEnvironment.Names, name => Assert.Contains($"`{name}`", deploying));
    }

    /// <summary>Docker's .dockerignore rule for these patterns: <c>**</c> any folders, <c>*</c> any name, a trailing slash a folder.</summary>
    static bool Ignored(IEnumerable<string> patterns, string path) => patterns.Any(p =>
        System.Text.RegularExpressions.Regex.IsMatch(path + "/", "^" + System.Text.RegularExpressions.Regex.Escape(p.TrimEnd('/'))
            .Replace(@"\*\*/", "(.*/)?", StringComparison.Ordinal).Replace(@"\*", "[^/]*", StringComparison.Ordinal) + "/"));

    [Fact]
    public void Docker_build_leaves_the_build_outputs_and_artifacts_out_of_its_context()
    {
        var patterns = File.ReadAllLines(Repository.Path(".dockerignore")).Select(l => l.Trim()).Where(l => l.Length > 0 && !l.StartsWith('#')).ToList();
        var outputs = Directory.GetDirectories(Repository.Path("src")).Concat(Directory.GetDirectories(Repository.Path("tests")))
            .SelectMany(project => new[] { "bin", "obj" }.Select(f => Path.GetRelativePath(Repository.Root, Path.Combine(project, f)))).ToList();

        Assert.All(outputs.Append("artifacts").Append(".git"), path => Assert.True(Ignored(patterns, path), $"{path} is sent to the docker daemon"));
        Assert.All(["src/SegCli/SegCli.csproj", "environment/sagemaker/serve", "global.json", "Directory.Packages.props"],
            path => Assert.False(Ignored(patterns, path), $"{path} is left out of the image's build"));
    }

    [Fact]
    public async Task The_serve_entry_point_serves_what_a_training_job_wrote_and_stops_on_sigterm()
    {
        using var dir = new TempDir();
        SyntheticRoads.Write(dir["opt/ml/input/data/training"], new SyntheticOptions(6, 3, 0, 48, 160));
        Directory.CreateDirectory(dir["opt/ml/input/config"]);
        File.WriteAllText(dir["opt/ml/input/config/hyperparameters.json"], """{"epochs": "1", "warmup-epochs": "0", "size": "32x96", "width-divisor": "4", "batch-size": "2"}""");
        var environment = new Dictionary<string, string> { ["SEG_APP"] = Path.Combine(AppContext.BaseDirectory, "seg.dll"), ["SEG_SAGEMAKER_ROOT"] = dir["opt/ml"] };
        var (trained, _, trainErr) = Seg.Run(environment, "sagemaker", "train");
        Assert.True(trained == 0, trainErr);
        int port = FreePort();
        var start = new ProcessStartInfo("bash", [Repository.Path("environment/sagemaker/serve"), "--host", "127.0.0.1", "--device", "cpu"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var (name, value) in environment)
            start.Environment[name] = value;
        start.Environment["SAGEMAKER_BIND_TO_PORT"] = port.ToString();
        using var serve = Process.Start(start)!;
        var stdout = serve.StandardOutput.ReadToEndAsync();
        var stderr = serve.StandardError.ReadToEndAsync();
        try
        {
            using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromMinutes(1) };
            var deadline = DateTime.UtcNow.AddMinutes(2);
            HttpStatusCode? ping = null;
            while (ping != HttpStatusCode.OK && !serve.HasExited && DateTime.UtcNow < deadline)
            {
                try
                {
                    ping = (await http.GetAsync("/ping")).StatusCode;
                }
                catch (HttpRequestException)
                {
                }
                await Task.Delay(100);
            }
            Assert.True(ping == HttpStatusCode.OK, $"no 200 from /ping on SAGEMAKER_BIND_TO_PORT {port}: {(serve.HasExited ? await stderr : "")}");
            string image = Directory.GetFiles(dir["opt/ml/input/data/training/training/image_2"]).Order().First();
            var content = new ByteArrayContent(File.ReadAllBytes(image));
            content.Headers.ContentType = MediaTypeHeaderValue.Parse("application/x-image");
            var answer = await http.PostAsync("/invocations", content);
            var parameters = JsonDocument.Parse(await http.GetStringAsync("/execution-parameters")).RootElement;
            var transform = Example("transform-job.json");

            Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
            var map = ImageFile.DecodeRgb(await answer.Content.ReadAsByteArrayAsync(), "map");
            Assert.Equal((160, 48), (map.Width, map.Height));
            Assert.Equal(parameters.GetProperty("MaxPayloadInMB").GetInt32(), transform.GetProperty("MaxPayloadInMB").GetInt32());
            Assert.Equal(parameters.GetProperty("MaxConcurrentTransforms").GetInt32(), transform.GetProperty("MaxConcurrentTransforms").GetInt32());
            Assert.Equal("SingleRecord", transform.GetProperty("BatchStrategy").GetString()); // the server's SINGLE_RECORD

            Process.Start("kill", ["-TERM", serve.Id.ToString()])!.WaitForExit();
            Assert.True(serve.WaitForExit(TimeSpan.FromMinutes(1)), "serve stopped after SIGTERM");
            Assert.Equal(0, serve.ExitCode);
            Assert.Contains($"{dir["opt/ml/model"]}", await stdout);
        }
        finally
        {
            if (!serve.HasExited)
                serve.Kill(entireProcessTree: true);
        }
    }

    [Fact]
    public void The_deployment_examples_chain_the_training_jobs_model_into_an_endpoint_and_a_transform_job()
    {
        var training = Example("training-job.json");
        var model = Example("model.json");
        var config = Example("endpoint-config.json");
        var endpoint = Example("endpoint.json");
        var transform = Example("transform-job.json");

        string job = training.GetProperty("TrainingJobName").GetString()!;
        string output = training.GetProperty("OutputDataConfig").GetProperty("S3OutputPath").GetString()!;
        Assert.Equal($"{output}{job}/output/model.tar.gz", model.GetProperty("PrimaryContainer").GetProperty("ModelDataUrl").GetString());
        Assert.Equal(training.GetProperty("AlgorithmSpecification").GetProperty("TrainingImage").GetString(), model.GetProperty("PrimaryContainer").GetProperty("Image").GetString());
        string name = model.GetProperty("ModelName").GetString()!;
        Assert.Equal(name, config.GetProperty("ProductionVariants")[0].GetProperty("ModelName").GetString());
        Assert.Equal(config.GetProperty("EndpointConfigName").GetString(), endpoint.GetProperty("EndpointConfigName").GetString());
        Assert.Equal(name, transform.GetProperty("ModelName").GetString());
        Assert.Contains(transform.GetProperty("TransformInput").GetProperty("ContentType").GetString(), SegServe.Negotiation.ImageTypes);
        Assert.Contains(transform.GetProperty("TransformOutput").GetProperty("Accept").GetString(), SegServe.Negotiation.AcceptTypes);
        Assert.Equal(new SegServe.ServeOptions().MaxBodyBytes / 1048576, transform.GetProperty("MaxPayloadInMB").GetInt32());
    }
}
