using System.CommandLine;
using SegHelpers.Data;
using SegHelpers.Downloads;
using SegHelpers.Model.Weights;

namespace SegCli.Commands;

/// <summary><c>seg fetch vgg16</c> and <c>seg fetch kitti</c>: the two downloads a real run needs, resumable, verified and cached.</summary>
static class FetchCommand
{
    public static Command Create()
    {
        var cache = new Option<string?>("--cache") { Description = "Folder for the weights (default: SEG_WEIGHTS_CACHE, else $TORCH_HOME/hub/checkpoints, else ~/.cache/torch/hub/checkpoints)." };
        var vggUrl = new Option<string?>("--url") { Description = $"Download from here instead (a mirror; default: SEG_VGG16_URL, else {ImageNetVgg16.DefaultUrl})." };
        var vgg16 = new Command("vgg16", "Download torchvision's ImageNet VGG16 (vgg16-397923af.pth, 528 MB) into PyTorch's cache, checking its SHA-256; a cached file is checked the same way (once: the check is recorded beside it) and downloaded again if wrong.")
        {
            cache, vggUrl,
        };
        vgg16.SetAction(parse => Cli.Run(() =>
        {
            string file = ImageNetVgg16.Fetch(parse.GetValue(cache), Url(parse.GetValue(vggUrl)), Progress("vgg16"), verifying: Progress("verifying the cached vgg16"));
            Console.WriteLine($"{file} ({new FileInfo(file).Length / 1e6:F1} MB, SHA-256 checked); train with --encoder-weights {ImageNetVgg16.Keyword}");
            return 0;
        }));

        var output = new Option<string>("--out") { Description = "Folder to put data_road/ in (and data_road.zip while downloading).", Required = true };
        var kittiUrl = new Option<string?>("--url") { Description = $"Download from here instead (default: SEG_KITTI_URL, else {KittiRoadDownload.DefaultUrl})." };
        var kitti = new Command("kitti", "Download the KITTI Road base kit (data_road.zip, about 450 MB), extract it safely and check it.")
        {
            output, kittiUrl,
        };
        kitti.SetAction(parse => Cli.Run(() =>
        {
            string outDir = parse.GetValue(output)!;
            var report = KittiRoadDownload.Fetch(outDir, Url(parse.GetValue(kittiUrl)), Progress("data_road.zip"));
            Console.WriteLine($"{report.Root}: {report.TrainingPairs} labelled pairs, {report.TestImages} test images" +
                              (report.TrainingPairs == KittiRoadDownload.TrainingPairs && report.TestImages == KittiRoadDownload.TestImages
                                  ? "" : $" (the real kit has {KittiRoadDownload.TrainingPairs} and {KittiRoadDownload.TestImages})"));
            Console.WriteLine($"calibration: {CheckCommand.Calibration(report)}");
            Console.WriteLine($"licence: {KittiRoadDownload.Licence}");
            Console.WriteLine($"cite: {KittiRoadDownload.Citation}");
            Console.WriteLine($"train with: seg train --data {report.Root} --encoder-weights {ImageNetVgg16.Keyword} ...");
            return 0;
        }));

        return new Command("fetch", "Download what a real run needs: the ImageNet VGG16 weights, the KITTI Road data.") { vgg16, kitti };
    }

    static Uri? Url(string? text)
    {
        if (text is null)
            return null;
        return Uri.TryCreate(text, UriKind.Absolute, out var url) && url.Scheme is "http" or "https"
            ? url
            : throw new ArgumentException($"--url '{text}' is not an http(s) address");
    }

    /// <summary>Download progress on standard error: one line redrawn in place on a terminal, a line every 10 seconds in logs.</summary>
    static DownloadLog Progress(string name) => Console.IsErrorRedirected
        ? new(name, Console.Error.WriteLine, TimeSpan.FromSeconds(10))
        : new(name, Console.Error.Write, TimeSpan.FromSeconds(10), rewrite: true);
}
