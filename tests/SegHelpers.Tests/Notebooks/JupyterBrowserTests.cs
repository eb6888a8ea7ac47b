using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Microsoft.Playwright;

namespace SegHelpers.Tests.Notebooks;

/// <summary>A fact that runs only where Debian's Chromium and classic Jupyter Notebook server are installed, and says so otherwise.</summary>
sealed class JupyterServerFactAttribute : FactAttribute
{
    public const string Server = "/usr/bin/jupyter-notebook";

    public JupyterServerFactAttribute()
    {
        if (!File.Exists(ChromiumFactAttribute.Path) || !File.Exists(Server))
            Skip = $"needs {ChromiumFactAttribute.Path} and {Server} (apt-get install chromium jupyter-notebook; test.sh does this as root): this test runs a notebook in them";
    }
}

/// <summary>
/// Notebook 04 in a real front end: the classic Jupyter Notebook server on 127.0.0.1 with a token, the kernel tool as its
/// kernel, headless Chromium driven by Playwright clicking Cell › Run All. The page's DOM must show the training chart drawn
/// by plotly while the training cell still runs, and with every epoch once it has finished.
/// <c>SEG_SCREENSHOT=FILE</c> keeps a picture of the finished cell and <c>SEG_BROWSER_EPOCHS</c> trains longer than the 3 epochs
/// the test needs (tools/notebook-in-browser.sh sets both).
/// </summary>
public class JupyterBrowserTests
{
    static readonly int Epochs = int.TryParse(System.Environment.GetEnvironmentVariable("SEG_BROWSER_EPOCHS"), out int epochs) && epochs >= 2 ? epochs : 3;

    /// <summary>What the page shows of the training cell: whether it runs, the chart's SVG, its first trace's points, the status line.</summary>
    sealed record CellState(bool Running, bool Svg, int Points, string Status, string Result)
    {
        public static CellState From(JsonElement e) => new(e.GetProperty("running").GetBoolean(), e.GetProperty("svg").GetBoolean(),
            e.GetProperty("points").GetInt32(), e.GetProperty("status").GetString()!, e.GetProperty("result").GetString()!);
    }

    const string ReadCell = """
        (index) => {
          const cell = Jupyter.notebook.get_cell(index).element[0];
          const plot = cell.querySelector('.output_area .js-plotly-plot');
          const status = cell.querySelector('.output_html code');
          const result = cell.querySelector('.output_result pre') || cell.querySelector('.output_error pre');
          return {
            running: cell.classList.contains('running'),
            svg: !!cell.querySelector('.output_area svg.main-svg'),
            points: plot && plot.data && plot.data.length ? plot.data[0].x.length : 0,
            status: status ? status.textContent : '',
            result: result ? result.textContent : '',
          };
        }
        """;

    [JupyterServerFact]
    public async Task Notebook_04_draws_its_training_chart_while_it_trains_and_keeps_it()
    {
        using var dir = new TempDir();
        var environment = Jupyter.Environment(dir.Path);
        Jupyter.Workspace(dir["root"], ["04-training"], new Dictionary<string, string> { ["Epochs"] = $"{Epochs}" });
        string token = Guid.NewGuid().ToString("N");
        int port = FreePort();
        using var server = StartServer(dir["root"], port, token, environment);
        try
        {
            await WaitForServer(port, token, server);
            using var playwright = await Playwright.CreateAsync();
            await using var browser = await playwright.Chromium.LaunchAsync(new()
            {
                ExecutablePath = ChromiumFactAttribute.Path,
                Headless = true,
                Args = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
            });
            var page = await browser.NewPageAsync(new() { ViewportSize = new() { Width = 1280, Height = 1000 } });
            var pageErrors = new List<string>();
            page.PageError += (_, e) => pageErrors.Add(e);
            await page.GotoAsync($"http://127.0.0.1:{port}/notebooks/notebooks/04-training.ipynb?token={token}");
            await page.WaitForFunctionAsync("() => window.Jupyter && Jupyter.notebook && Jupyter.notebook.kernel && Jupyter.notebook.kernel.is_connected()",
                null, new() { Timeout = 180_000 });
            int training = await page.EvaluateAsync<int>("() => Jupyter.notebook.get_cells().findIndex(c => c.cell_type === 'code' && c.get_text().includes('NotebookTraining.Run('))");
            Assert.True(training > 0, "notebook 04 has its training cell");

            await page.ClickAsync("#celllink");
            await page.ClickAsync("#run_all_cells > a");

            var seen = new List<CellState>();
            var clock = Stopwatch.StartNew();
            CellState state;
            while (true)
            {
                state = CellState.From(await page.EvaluateAsync<JsonElement>(ReadCell, training));
                seen.Add(state);
                if (state.Result.Length > 0 || clock.Elapsed > TimeSpan.FromMinutes(10))
                    break;
                await Task.Delay(200);
            }
            Assert.True(state.Result.StartsWith($"Completed: trained {Epochs} epochs", StringComparison.Ordinal), $"the training cell did not complete in 10 minutes; last seen {state}; page errors: {string.Join("; ", pageErrors)}");
            var live = seen.Where(s => s.Running && s.Svg && s.Points > 0 && s.Points < Epochs).ToList();
            Assert.True(live.Count > 0, $"no chart while training ran; seen {string.Join(", ", seen.Select(s => $"{(s.Running ? "running" : "idle")}/{s.Points}").Distinct())}");
            Assert.True(state.Svg && state.Points == Epochs, $"after training: {state}");
            Assert.StartsWith($"epoch {Epochs}: train loss", state.Status);
            // The status line follows the run: during the first epoch it shows a step line ("epoch 1 step k/n …") or that epoch's line.
            Assert.Contains(seen, s => s.Running && System.Text.RegularExpressions.Regex.IsMatch(s.Status, "^epoch 1[ :]"));

            string picture = dir["training-cell.png"];
            await page.Locator(".cell").Nth(training).ScreenshotAsync(new() { Path = picture });
            Assert.True(new FileInfo(picture).Length > 10_000);
            if (System.Environment.GetEnvironmentVariable("SEG_SCREENSHOT") is { Length: > 0 } keep)
                File.Copy(picture, keep, overwrite: true);
        }
        finally
        {
            server.Kill(entireProcessTree: true);
            server.WaitForExit(10_000);
            Jupyter.Unlink(dir["root"]);
        }
    }

    static int FreePort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    static Process StartServer(string root, int port, string token, IReadOnlyDictionary<string, string> environment)
    {
        var start = new ProcessStartInfo(JupyterServerFactAttribute.Server,
            ["--no-browser", "--allow-root", "--ip=127.0.0.1", $"--port={port}", "--port-retries=0", $"--NotebookApp.token={token}", $"--notebook-dir={root}"])
            { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = root };
        foreach (var (name, value) in environment)
            start.Environment[name] = value;
        var server = Process.Start(start)!;
        server.OutputDataReceived += (_, _) => { };
        server.ErrorDataReceived += (_, _) => { };
        server.BeginOutputReadLine();
        server.BeginErrorReadLine();
        return server;
    }

    static async Task WaitForServer(int port, string token, Process server)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromMinutes(2))
        {
            Assert.False(server.HasExited, $"jupyter-notebook exited with {(server.HasExited ? server.ExitCode : 0)}");
            try
            {
                using var answer = await http.GetAsync($"http://127.0.0.1:{port}/api/status?token={token}");
                if (answer.IsSuccessStatusCode && JsonDocument.Parse(await answer.Content.ReadAsStringAsync()).RootElement.TryGetProperty("started", out _))
                    return;
            }
            catch (HttpRequestException)
            {
            }
            await Task.Delay(500);
        }
        Assert.Fail("jupyter-notebook did not answer on 127.0.0.1 within 2 minutes");
    }
}
