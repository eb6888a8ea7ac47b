using System.CommandLine;
using SegHelpers.Benchmarks;
using SegHelpers.Serving;

namespace SegCli.Commands;

/// <summary><c>seg bench</c>: FCN-8s throughput, the data pipeline and memory on this machine (see docs/performance.md).</summary>
static class BenchCommand
{
    public static Command Create()
    {
        var json = new Option<string?>("--json") { Description = "Also write every figure (with its samples) to this JSON file." };
        var quick = new Option<bool>("--quick") { Description = "A one-minute look: quarter-width FCN-8s at 96x320, batch 4." };
        var sizes = new Option<string?>("--sizes") { Description = "Comma-separated HxW sizes (default 160x576,375x1242)." };
        var batches = new Option<string?>("--batch-sizes") { Description = "Comma-separated batch sizes (default 1,4)." };
        var divisor = new Option<int?>("--width-divisor") { Description = "Channel divisor (default 1: VGG16 widths)." };
        var repeats = new Option<int?>("--repeats") { Description = "Timed runs per figure (default 5)." };
        var warmup = new Option<int?>("--warmup") { Description = "Untimed runs first (default 1)." };
        var noTrain = new Option<bool>("--no-train") { Description = "Skip training-step figures." };
        var noBf16 = new Option<bool>("--no-bf16") { Description = "Skip bf16 figures." };
        var model = new Option<string?>("--model") { Description = "A trained run: also compare fp32 and bf16 road IoU and speed on its validation split (needs --data)." };
        var data = new Option<string?>("--data") { Description = "The run's data folder, for --model." };
        var modelOnly = new Option<bool>("--model-only") { Description = "Only matmul and model figures (what bench/compare.sh compares with PyTorch)." };
        var profile = new Option<bool>("--profile") { Description = "Instead of the grid, split one training step (the first size and batch) into phases and layer kinds, fp32 and bf16, with user and system CPU time and GFLOP/s; --json writes it, --markdown FILE writes its tables." };
        var markdown = new Option<string?>("--markdown") { Description = "With --profile: also write the tables as Markdown to this file." };
        var serve = new Option<string?>("--serve") { HelpName = "RUN", Description = "Instead of the grid, load-test seg serve with this run on loopback: throughput and p50/p95/p99 latency at 1, 4 and 16 clients, and the server's resident memory across --serve-memory requests." };
        var serveImage = new Option<string?>("--serve-image") { Description = "With --serve: the image every request sends (default: a synthetic 1242x375 scene)." };
        var serveRequests = new Option<int>("--serve-requests") { DefaultValueFactory = _ => 200, Description = "With --serve: requests per concurrency level." };
        var serveMemory = new Option<int>("--serve-memory") { DefaultValueFactory = _ => 1000, Description = "With --serve: requests across which resident memory is sampled (every tenth of them); 0 skips it." };
        var hostile = new Option<string?>("--serve-hostile") { HelpName = "N,N", Description = "With --serve: then, for each N, N concurrent 16-megapixel bomb PNGs (Accept: image/jpeg) with a ping every 0.5 s: peak and after-burst resident memory, answers, ping and request latency." };
        var soak = new Option<double>("--serve-soak") { HelpName = "MINUTES", Description = "With --serve: then this many minutes of mixed valid, bomb, truncated and slow requests: answers, 5xx, memory every 30 s." };
        var bombSize = new Option<string>("--serve-bomb") { DefaultValueFactory = _ => "4000x4000", HelpName = "HxW", Description = "With --serve-hostile and --serve-soak: the black PNG's size once decoded (default 4000x4000, 16 megapixels)." };
        var serveArgs = new Option<string?>("--serve-args") { Description = "With --serve: more options for seg serve, space-separated (e.g. \"--max-megapixels 16\")." };
        var backend = new Option<string?>("--backend")
        {
            HelpName = "libtorch,onnxruntime",
            Description = "Instead of the grid, fp32 inference on ONNX Runtime against libtorch, each in a process of its own with equal threads, passes alternated: " +
                          "images/s and peak memory per --points, seg serve's cold start (--cold-starts), ONNX Runtime's profiler by operator. --model RUN uses its weights.",
        };
        var points = new Option<string?>("--points") { HelpName = "HxW:B,…", Description = "With --backend: sizes and their batch (default 160x576:4,375x1242:1)." };
        var threads = new Option<int>("--threads") { Description = "With --backend: threads for both runtimes (default: one per logical core)." };
        var coldStarts = new Option<int>("--cold-starts") { DefaultValueFactory = _ => 2, Description = "With --backend: seg serve starts per backend (0 skips them)." };
        var worker = new Option<string?>("--backend-worker") { Hidden = true };
        var device = Cli.DeviceOption();
        var command = new Command("bench", "Measure FCN-8s training and inference throughput, the data pipeline and memory; medians of repeated runs.")
        {
            json, quick, sizes, batches, divisor, repeats, warmup, noTrain, noBf16, model, data, modelOnly, profile, markdown, serve, serveImage, serveRequests, serveMemory, hostile, soak, bombSize, serveArgs, backend, points, threads, coldStarts, worker, device,
        };
        command.SetAction(parse => Cli.Run(() =>
        {
            if (parse.GetValue(worker) is { } workerBackend)
                return BackendWorker.Run(workerBackend, parse.GetValue(model) ?? throw new ArgumentException("--backend-worker needs --model"),
                    parse.GetValue(threads) > 0 ? parse.GetValue(threads) : Environment.ProcessorCount, Console.In, Console.Out);
            var o = parse.GetValue(quick) ? BenchOptions.Quick : BenchOptions.Default;
            if (parse.GetValue(sizes) is { } s)
                o = o with { Sizes = [.. s.Split(',').Select(Cli.ParseSize)] };
            if (parse.GetValue(batches) is { } b)
                o = o with { BatchSizes = [.. b.Split(',').Select(v => int.TryParse(v, out int n) && n > 0 ? n : throw new ArgumentException($"--batch-sizes: '{v}' is not a positive number"))] };
            o = o with
            {
                WidthDivisor = parse.GetValue(divisor) ?? o.WidthDivisor,
                Repeats = parse.GetValue(repeats) ?? o.Repeats,
                Warmup = parse.GetValue(warmup) ?? o.Warmup,
                Train = !parse.GetValue(noTrain),
                Bf16 = !parse.GetValue(noBf16),
                Device = parse.GetValue(device)!,
            };
            if (parse.GetValue(modelOnly))
                o = o with { PipelineImages = 0, DriftEpochs = 0 };
            if (o.Repeats < 1 || o.Warmup < 0)
                throw new ArgumentException("--repeats must be at least 1 and --warmup at least 0");
            if (parse.GetValue(serve) is { } served)
                return RunServe(served, parse.GetValue(serveImage), parse.GetValue(serveRequests), parse.GetValue(serveMemory), parse.GetValue(device)!, parse.GetValue(json), parse.GetValue(markdown),
                    ParseCounts(parse.GetValue(hostile)), parse.GetValue(soak), Cli.ParseSize(parse.GetValue(bombSize)!), parse.GetValue(serveArgs)?.Split(' ', StringSplitOptions.RemoveEmptyEntries) ?? []);
            if (parse.GetValue(backend) is { } backends)
                return RunBackends(backends, parse.GetValue(points), parse.GetValue(model), o, parse.GetValue(threads), parse.GetValue(coldStarts), parse.GetValue(json), parse.GetValue(markdown));
            if (parse.GetValue(profile))
                return RunProfile(o, parse.GetValue(repeats) ?? 3, parse.GetValue(json), parse.GetValue(markdown));
            if (parse.GetValue(markdown) is not null)
                throw new ArgumentException("--markdown goes with --profile, --serve or --backend");
            var report = Bench.Run(o, line => Console.WriteLine(line));
            var figures = report.Figures.ToList();
            if (parse.GetValue(model) is { } run)
                figures.AddRange(Bench.PrecisionComparison(run, parse.GetValue(data) ?? throw new ArgumentException("--model needs --data (the run's data folder)"), o, line => Console.WriteLine(line)));
            report = report with { Figures = figures };
            Console.WriteLine();
            Console.WriteLine($"machine: {report.Machine}");
            Console.WriteLine($"runtime: {report.Runtime}");
            foreach (var note in report.Notes)
                Console.WriteLine($"note: {note}");
            if (parse.GetValue(json) is { } path)
            {
                report.WriteJson(path);
                Console.WriteLine($"wrote {path}");
            }
            return 0;
        }));
        return command;
    }

    static int[] ParseCounts(string? text) =>
        text is null ? [] : [.. text.Split(',').Select(v => int.TryParse(v, out int n) && n > 0 ? n : throw new ArgumentException($"--serve-hostile: '{v}' is not a positive number"))];

    static int RunServe(string run, string? imagePath, int requests, int memoryRequests, string device, string? json, string? markdown, int[] bursts, double soakMinutes, (int Height, int Width) bombSize, string[] serveArgs)
    {
        if (requests < 1 || memoryRequests < 0 || soakMinutes < 0)
            throw new ArgumentException("--serve-requests must be at least 1, --serve-memory and --serve-soak at least 0");
        byte[] image;
        if (imagePath is not null)
            image = File.ReadAllBytes(imagePath);
        else
            image = SegHelpers.Data.ImageFile.EncodePng(SegHelpers.Data.SyntheticRoads.Render(1, SegHelpers.Data.RoadCategory.Um, 1242, 375).Image);
        var (fp32, bf16) = Bench.MatmulRates(new BenchOptions([], [], Device: device));
        string rates = $"matmul 2048² in this process before the server starts: fp32 {fp32:F0} GFLOP/s, bf16 {bf16:F0} GFLOP/s";
        Console.WriteLine(rates);
        using var server = ServerProcess.StartAsync(run, ["--device", device, "--queue", "64", .. serveArgs]).GetAwaiter().GetResult();
        Console.WriteLine($"seg serve ready at {server.Address} (pid {server.Id}, {(serveArgs.Length == 0 ? "default options" : string.Join(' ', serveArgs))} --queue 64); image of {image.Length / 1e3:F0} kB");
        LoadTest.RunAsync(server, image, 1, 5, TimeSpan.FromMinutes(5)).GetAwaiter().GetResult();
        var levels = new List<LoadLevel>();
        foreach (int clients in new[] { 1, 4, 16 })
        {
            var level = LoadTest.RunAsync(server, image, clients, requests, TimeSpan.FromMinutes(10)).GetAwaiter().GetResult();
            levels.Add(level);
            Console.WriteLine($"{clients,2} clients: {level.Requests} answered, {level.Failed} not 200, {level.Throughput:F2} requests/s, p50 {level.P50:F0} ms, p95 {level.P95:F0} ms, p99 {level.P99:F0} ms");
        }
        var memory = memoryRequests > 0 ? LoadTest.MemoryAsync(server, image, memoryRequests, Math.Max(1, memoryRequests / 10)).GetAwaiter().GetResult() : null;
        var hostile = new List<HostileBurst>();
        byte[] bomb = HostileLoad.Bomb(bombSize.Width, bombSize.Height);
        foreach (int bombs in bursts)
        {
            Thread.Sleep(InferenceServerIdle);
            var burst = HostileLoad.BurstAsync(server, bomb, bombs, TimeSpan.FromSeconds(10)).GetAwaiter().GetResult();
            hostile.Add(burst);
            Console.WriteLine($"{bombs} bombs: resident {burst.IdleMB:F0} → peak {burst.PeakMB:F0} → {burst.AfterMB:F0} MB 10 s after; {burst.ServerErrors} 5xx; ping p99 {burst.Pings.P99:F1} ms, max {burst.Pings.Max:F1} ms");
        }
        Soak? soak = null;
        if (soakMinutes > 0)
        {
            soak = HostileLoad.SoakAsync(server, image, bomb, TimeSpan.FromMinutes(soakMinutes)).GetAwaiter().GetResult();
            Console.WriteLine($"soak: {soak.ServerErrors} 5xx; memory {string.Join(", ", soak.MemoryMB.Select(m => m.ToString("F0", System.Globalization.CultureInfo.InvariantCulture)))} MB");
        }
        int exit = server.Stop();
        string tables = $"{char.ToUpperInvariant(rates[0])}{rates[1..]}.\n\n" + LoadTest.Markdown(levels, memory) + (hostile.Count > 0 || soak is not null ? "\n" + HostileLoad.Markdown(hostile, soak) : "") +
                        $"\nseg serve exited with code {exit} after SIGTERM.\n";
        Console.WriteLine();
        Console.Write(tables);
        if (json is not null)
        {
            SegHelpers.AtomicFile.WriteText(json, System.Text.Json.JsonSerializer.Serialize(new { levels, memory, hostile, soak, exit }, new System.Text.Json.JsonSerializerOptions { WriteIndented = true }));
            Console.WriteLine($"wrote {json}");
        }
        if (markdown is not null)
        {
            SegHelpers.AtomicFile.WriteText(markdown, tables);
            Console.WriteLine($"wrote {markdown}");
        }
        return exit;
    }

    /// <summary>Before a burst: long enough for the server to have released the memory of what came before.</summary>
    static readonly TimeSpan InferenceServerIdle = TimeSpan.FromSeconds(4);

    static int RunBackends(string backends, string? pointsText, string? model, BenchOptions o, int threads, int coldStarts, string? json, string? markdown)
    {
        var names = backends.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Order().ToArray();
        if (!names.SequenceEqual(["libtorch", "onnxruntime"]))
            throw new ArgumentException($"--backend '{backends}': the comparison runs libtorch,onnxruntime (both, side by side)");
        var points = pointsText is null ? BackendComparisonOptions.DefaultPoints : [.. pointsText.Split(',').Select(ParsePoint)];
        var report = BackendComparison.Run(new BackendComparisonOptions(points, model, o.WidthDivisor, o.Warmup, o.Repeats, threads, coldStarts, o.Device),
            line => Console.WriteLine(line));
        string tables = report.ToMarkdown();
        Console.WriteLine();
        Console.Write(tables);
        if (json is not null)
        {
            SegHelpers.AtomicFile.WriteText(json, System.Text.Json.JsonSerializer.Serialize(report, new System.Text.Json.JsonSerializerOptions { WriteIndented = true, IncludeFields = true }));
            Console.WriteLine($"wrote {json}");
        }
        if (markdown is not null)
        {
            SegHelpers.AtomicFile.WriteText(markdown, tables);
            Console.WriteLine($"wrote {markdown}");
        }
        return 0;
    }

    static (int Height, int Width, int Batch) ParsePoint(string text)
    {
        var parts = text.Split(':');
        if (parts.Length == 2 && int.TryParse(parts[1], out int batch) && batch > 0)
        {
            var (h, w) = Cli.ParseSize(parts[0]);
            return (h, w, batch);
        }
        throw new ArgumentException($"--points: '{text}' is not HxW:BATCH, e.g. 375x1242:1");
    }

    static int RunProfile(BenchOptions o, int repeats, string? json, string? markdown)
    {
        var (h, w) = o.Sizes[0];
        var report = Profile.Run(new ProfileOptions(h, w, o.BatchSizes[0], o.WidthDivisor, o.Warmup, repeats, o.Bf16, o.Device), line => Console.WriteLine(line));
        string tables = report.ToMarkdown();
        Console.WriteLine();
        Console.Write(tables);
        if (json is not null)
        {
            report.WriteJson(json);
            Console.WriteLine($"wrote {json}");
        }
        if (markdown is not null)
        {
            SegHelpers.AtomicFile.WriteText(markdown, tables);
            Console.WriteLine($"wrote {markdown}");
        }
        return 0;
    }
}
