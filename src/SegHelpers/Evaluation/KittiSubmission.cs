using System.IO.Compression;
using SegHelpers.Data;

namespace SegHelpers.Evaluation;

/// <summary>What <see cref="KittiSubmission.Write"/> left behind.</summary>
/// <param name="BirdsEyeFolder">The bird's-eye-view maps, one per test image, under the server's names.</param>
/// <param name="Zip">The archive to upload: those maps at its root.</param>
/// <param name="Maps">How many maps.</param>
/// <param name="PerspectiveFolder">The perspective maps they were made from, when this wrote them.</param>
public sealed record KittiSubmissionFiles(string BirdsEyeFolder, string Zip, int Maps, string? PerspectiveFolder = null);

/// <summary>
/// A KITTI Road submission. The server evaluates in the bird's-eye view: as the devkit's
/// <c>simpleExample_transformTestResults2BEV.py</c> says, results computed in the image's perspective must be transformed with
/// each test image's calibration before submission. This makes that folder from the perspective maps and zips it.
/// </summary>
public static class KittiSubmission
{
    /// <summary>The archive's file name.</summary>
    public const string ZipName = "kitti-road-bev-submission.zip";

    /// <summary>
    /// The whole submission for <paramref name="data"/>'s test images: their perspective maps into
    /// <paramref name="outDir"/>/<c>probs</c> (what the devkit's <c>evaluateRoad.py</c> reads), then <see cref="Write"/> with
    /// <c>testing/calib</c>. Every test image's calibration is checked before any prediction.
    /// </summary>
    public static KittiSubmissionFiles Predict(RoadPredictor predictor, KittiRoad data, string outDir, IProgress<int>? progress = null)
    {
        if (data.Testing.Count == 0)
            throw new BadInputException(Path.Combine(data.Root, "testing", "image_2"), "holds no test images", "unpack data_road.zip with its testing/ folder");
        var views = new BirdsEyeViews(Path.Combine(data.Root, "testing", "calib"));
        views.RequireAll(data.Testing.Select(s => s.ImagePath));
        string perspective = Path.Combine(outDir, "probs");
        PredictionWriter.Write(predictor, data.Testing, new PredictionFiles(Probabilities: perspective, KittiNames: true), progress);
        var maps = data.Testing.Select(s => Path.Combine(perspective, s.ResultName())).ToList();
        return Write(maps, views, outDir) with { PerspectiveFolder = perspective };
    }

    /// <summary>
    /// Maps every perspective probability map in <paramref name="maps"/> (<c>{cat}_road_NNNNNN.png</c>) to the bird's-eye
    /// view into <paramref name="outDir"/>/<c>bev</c>, then writes <paramref name="outDir"/>/<see cref="ZipName"/> with those
    /// files at its root, atomically. A map without calibration, or one that cannot be read, stops it before the zip is written.
    /// </summary>
    public static KittiSubmissionFiles Write(IReadOnlyList<string> maps, BirdsEyeViews views, string outDir, IProgress<int>? progress = null)
    {
        if (maps.Count == 0)
            throw new ArgumentException("no probability maps to submit", nameof(maps));
        views.RequireAll(maps);
        string bev = Path.Combine(outDir, "bev");
        var results = views.TransformFiles(maps, bev, progress);
        var failed = results.Where(r => r.Error is not null).ToList();
        if (failed.Count > 0)
            throw new BadInputException(failed[0].Input, $"{failed.Count} map(s) could not be transformed, the first: {failed[0].Error}",
                "write the maps again (seg predict --kitti), then transform them");
        string zip = Path.Combine(outDir, ZipName);
        AtomicFile.Write(zip, stream =>
        {
            using var archive = new ZipArchive(stream, ZipArchiveMode.Create, leaveOpen: true);
            foreach (var result in results.OrderBy(r => r.Output, StringComparer.Ordinal))
                archive.CreateEntryFromFile(result.Output!, Path.GetFileName(result.Output!), CompressionLevel.Optimal);
        });
        return new KittiSubmissionFiles(bev, zip, results.Count);
    }
}
