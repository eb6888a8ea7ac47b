using System.Buffers.Binary;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using static SegHelpers.Tests.Notebooks.NotebookFiles;

namespace SegHelpers.Tests.Notebooks;

/// <summary>
/// What each cell of the five product notebooks must show, found by a call in its source: the tables, galleries, figures and
/// their data, sized by the notebook's parameters. A cell whose output a front end drops, or that shows an empty placeholder,
/// fails here by name.
/// </summary>
static partial class VisibleOutputs
{
    public static void Check(string notebook, List<ExecutedCell> cells, IReadOnlyDictionary<string, string> parameters, string side)
    {
        int P(string name) => int.Parse(parameters[name], System.Globalization.CultureInfo.InvariantCulture);
        var shown = new Shown(notebook, side, cells);
        switch (notebook)
        {
            case "01-data":
                shown.PlotlyScript();
                int count = P("SyntheticCount"), showCount = P("ShowCount");
                Assert.StartsWith($"{count} labelled training images, ", shown.Result("KittiRoad.Open(dataDir)"));
                string dataset = shown.Html("Show.Dataset(report)");
                Assert.Contains($"{count} labelled pairs", dataset);
                Assert.Contains("no problems found", dataset);
                Assert.All(["um", "umm", "uu", "all"], c => Assert.Contains($"<th>{c}</th>", dataset));
                Assert.Equal([("road", 4), ("non-road", 4), ("don't care", 4)], shown.Chart("Charts.ClassBalance(report)"));
                var (samplesWidth, samplesHeight) = shown.Png("Show.Samples(data, ShowCount)");
                Assert.Equal(2 * 480 + 4, samplesWidth); // image and label side by side, 480 pixels each
                Assert.True((samplesHeight + 4) % showCount == 0 && (samplesHeight + 4) / showCount - 4 is > 140 and < 150, $"{showCount} rows of KITTI-shaped pairs in {samplesHeight} pixels");
                Assert.Equal((3 * P("Width") + 8, 2 * P("Height") + 4), shown.Png("Show.Augmentations("));
                var split = SplitLine().Match(shown.Result("new RunInfo(dataDir"));
                Assert.True(split.Success, shown.Result("new RunInfo(dataDir"));
                Assert.Equal(count, int.Parse(split.Groups[1].Value) + int.Parse(split.Groups[2].Value));
                break;
            case "02-encoder":
                Assert.Empty(shown.Outputs("TorchNative.EnsureLoadable()"));
                Assert.Matches("^FCN-8s: [0-9,]+ parameters, of which the encoder's convolutions [0-9,]+$", shown.Result("new Fcn("));
                string summary = shown.Html("Show.Summary(");
                Assert.Contains($"<th>encoder block 1 (pool1)</th><td>[1, {64 / P("WidthDivisor")}, {P("Height") / 2}, {P("Width") / 2}]</td>", summary);
                Assert.Contains("fc7", summary);
                Assert.StartsWith("no EncoderWeights given", shown.Result("EncoderWeights != \"\""));
                var maps = shown.Outputs("model.Encoder.Stages(input)");
                Assert.Equal(11, maps.Count); // a shape line and a picture per pool, then fc7's shape
                int channels = P("FeatureChannels"), columns = Math.Min(channels, 4);
                for (int i = 0; i < 5; i++)
                {
                    int w = P("Width") >> (i + 1), h = P("Height") >> (i + 1), rows = (channels + columns - 1) / columns;
                    Assert.StartsWith($"pool{i + 1}: [1, ", Text(maps[2 * i]["text"]));
                    Assert.Equal((columns * w + (columns - 1) * 4, rows * h + (rows - 1) * 4), Shown.PngSize(maps[2 * i + 1]));
                }
                Assert.StartsWith("fc7: [1, ", Text(maps[10]["text"]));
                break;
            case "03-decoder":
                Assert.StartsWith("[[0.0625, 0.1875, 0.1875, 0.0625]", shown.Stdout("FcnDecoder.Upsampler("));
                string runs = shown.Stdout("DecoderComparison.Train(");
                Assert.All(["fcn32s", "fcn16s", "fcn8s"], v => Assert.Matches($"(?m)^{v}: best val road IoU [0-9.]+ \\(epoch [0-9]+\\)$", runs));
                string gallery = shown.Html("Show.Gallery(");
                Assert.Equal(3, Regex.Count(gallery, "<figure[^>]*><img src=\"data:image/png;base64,"));
                Assert.All(["fcn32s: val IoU", "fcn16s: val IoU", "fcn8s: val IoU"], c => Assert.Contains(c, gallery));
                break;
            case "04-training":
                shown.PlotlyScript();
                int epochs = P("Epochs");
                Assert.Contains($"Epochs = {epochs},", shown.Html("new TrainingOptions("));
                var training = shown.Outputs("NotebookTraining.Run(");
                Assert.Equal(["display_data", "display_data", "stream", "execute_result"], training.Select(o => o["output_type"]!.GetValue<string>()));
                Assert.StartsWith($"<code>epoch {epochs}: train loss ", Text(training[0]["data"]!["text/html"])); // the status after the last epoch
                Assert.Equal([("train loss", epochs), ("val loss", epochs), ("val road IoU", epochs), ("val MaxF", epochs)], PlotlyChart.Traces(Text(training[1]["data"]!["text/html"])));
                Assert.Equal(epochs, Regex.Count(Text(training[2]["text"]), "(?m)^epoch [0-9]+: train loss"));
                Assert.StartsWith($"Completed: trained {epochs} epochs; best epoch ", Text(training[3]["data"]!["text/plain"]));
                Assert.All(["options.json", "metrics.jsonl", "best.safetensors", "last.safetensors"], f => Assert.Contains(f, shown.Result("Directory.GetFiles(runDir)")));
                break;
            case "05-evaluation":
                shown.PlotlyScript();
                var evaluated = EvaluatedLine().Match(shown.Result("RoadEvaluation.RunInto("));
                Assert.True(evaluated.Success, shown.Result("RoadEvaluation.RunInto("));
                int images = int.Parse(evaluated.Groups[1].Value);
                string[] categories = ["UM_ROAD", "UMM_ROAD", "UU_ROAD", "URBAN_ROAD"];
                Assert.All(categories, c => Assert.Contains($"<th>{c}</th>", shown.Html("Show.Benchmark(")));
                string bevTable = shown.Html("Show.BirdsEyeBenchmark(");
                Assert.Contains("0.05 m cells, x -10…10 m, z 6…46 m; road IoU at p ≥ 0.5: ", bevTable);
                Assert.All(categories, c => Assert.Contains($"<th>{c}</th>", bevTable));
                Assert.NotEqual(shown.Html("Show.Benchmark("), bevTable[bevTable.IndexOf("<table", StringComparison.Ordinal)..]);
                string bevFigure = shown.Html("Show.BirdsEye(");
                Assert.Equal(2, Regex.Count(bevFigure, "<figure[^>]*><img src=\"data:image/png;base64,"));
                Assert.Contains("in the bird's-eye view (far end at the top)", System.Net.WebUtility.HtmlDecode(bevFigure));
                Assert.Equal(categories, shown.Chart("Charts.PrecisionRecall(").Select(t => t.Name.Split(' ')[0]));
                Assert.Equal(categories, shown.Chart("Charts.FMeasure(").Select(t => t.Name.Split(' ')[0]));
                Assert.All(shown.Chart("Charts.FMeasure("), t => Assert.True(t.Points > 1, t.Name));
                Assert.Equal([("images", images)], shown.Chart("Charts.IoUDistribution("));
                string worst = shown.Html("Show.Worst(");
                Assert.Equal(Math.Min(P("WorstCount"), images), Regex.Count(worst, "<figure[^>]*><img src=\"data:image/png;base64,"));
                Assert.Matches($"^[1-9][0-9]* test images: upload .*kitti-road-bev-submission.zip \\(bird's-eye view\\); perspective maps in .*; {Math.Min(P("OverlayCount"), images)} overlays in ", shown.Result("KittiSubmission.Predict("));
                break;
            default:
                Assert.Fail($"no checks for notebook {notebook}");
                break;
        }
    }

    [GeneratedRegex("^([0-9]+) training / ([0-9]+) validation: Um [0-9]+, Umm [0-9]+, Uu [0-9]+$")]
    private static partial Regex SplitLine();

    [GeneratedRegex("^([0-9]+) validation images at full resolution; road IoU at p ≥ 0.5: [0-9.]+ in perspective, [0-9.]+ in the bird's-eye view$")]
    private static partial Regex EvaluatedLine();

    /// <summary>The outputs of one executed notebook, looked up by a call its cell makes.</summary>
    sealed class Shown(string notebook, string side, List<ExecutedCell> cells)
    {
        public List<JsonObject> Outputs(string call)
        {
            var matching = cells.Where(c => c.Source.Contains(call, StringComparison.Ordinal)).ToList();
            Assert.True(matching.Count == 1, $"{side}, {notebook}: {matching.Count} cells call {call}");
            return matching[0].Outputs;
        }

        /// <summary>The cell's one display or result (beside any printed lines), which must carry <paramref name="mime"/> with content.</summary>
        JsonObject Only(string call, string mime)
        {
            var outputs = Outputs(call).Where(o => o["data"] is not null).ToList();
            Assert.True(outputs.Count == 1, $"{side}, {notebook}: the cell calling {call} shows {outputs.Count} values, not 1");
            string text = outputs[0]["data"]?[mime] is { } value ? Text(value) : "";
            Assert.False(string.IsNullOrWhiteSpace(text), $"{side}, {notebook}: the cell calling {call} shows no {mime}");
            return outputs[0];
        }

        public string Result(string call) => Text(Only(call, "text/plain")["data"]!["text/plain"]);

        public string Html(string call) => Text(Only(call, "text/html")["data"]!["text/html"]);

        public (int Width, int Height) Png(string call) => PngSize(Only(call, "image/png"));

        public List<(string Name, int Points)> Chart(string call) =>
            PlotlyChart.Traces(Html(call)) ?? throw new Xunit.Sdk.XunitException($"{side}, {notebook}: the cell calling {call} draws no chart");

        public string Stdout(string call)
        {
            var outputs = Outputs(call);
            Assert.True(outputs.Count == 1 && outputs[0]["name"]?.GetValue<string>() == "stdout", $"{side}, {notebook}: the cell calling {call} prints nothing");
            return Text(outputs[0]["text"]);
        }

        /// <summary>plotly.js, once, from the cell that loads the library.</summary>
        public void PlotlyScript() => Assert.Contains(SegHelpers.Notebooks.Figure.OfflineMarker, Html("Figure.OfflineScript()"));

        /// <summary>Width and height from a displayed PNG's header.</summary>
        public static (int Width, int Height) PngSize(JsonObject output)
        {
            byte[] png = Convert.FromBase64String(Text(output["data"]!["image/png"]));
            Assert.Equal<byte>([0x89, (byte)'P', (byte)'N', (byte)'G'], png[..4]);
            return (BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(16)), BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(20)));
        }
    }
}
