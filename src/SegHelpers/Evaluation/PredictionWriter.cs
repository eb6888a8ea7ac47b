using SegHelpers.Data;

namespace SegHelpers.Evaluation;

/// <summary>Which files <see cref="PredictionWriter"/> writes for each image; a null folder writes none of that kind.</summary>
/// <param name="Probabilities">8-bit road probability maps, named for the KITTI submission with <paramref name="KittiNames"/>.</param>
/// <param name="Masks">Binary road masks (road 255 at p ≥ 0.5).</param>
/// <param name="Overlays">The image with predicted road green; where a label exists, missed road red and false road blue.</param>
/// <param name="KittiNames">Name probability maps <c>{cat}_road_NNNNNN.png</c> (the devkit's and the server's names) instead of after the image.</param>
public sealed record PredictionFiles(string? Probabilities = null, string? Masks = null, string? Overlays = null, bool KittiNames = false);

/// <summary>
/// The one way predictions become files, for <c>seg predict</c>, the submission maps and the overlays of notebook 05:
/// images predicted in the predictor's batches, each written atomically as asked by <see cref="PredictionFiles"/>.
/// </summary>
public static class PredictionWriter
{
    /// <summary>Writes the files for images on disk (with KITTI names, read from their file names); returns how many images.</summary>
    public static int Write(RoadPredictor predictor, IEnumerable<string> imagePaths, PredictionFiles files, IProgress<int>? progress = null) =>
        Write(predictor, imagePaths.Select(p => new Item(p, null, files.KittiNames ? KittiRoad.SampleOf(p).ResultName() : MapName(p))), files, progress);

    /// <summary>Writes the files for KITTI samples (their labels, where they have them, go into the overlays); returns how many.</summary>
    public static int Write(RoadPredictor predictor, IEnumerable<KittiSample> samples, PredictionFiles files, IProgress<int>? progress = null) =>
        Write(predictor, samples.Select(s => new Item(s.ImagePath, s, files.KittiNames ? s.ResultName() : MapName(s.ImagePath))), files, progress);

    readonly record struct Item(string ImagePath, KittiSample? Sample, string MapName);

    static string MapName(string imagePath) => Path.GetFileNameWithoutExtension(imagePath) + ".png";

    static int Write(RoadPredictor predictor, IEnumerable<Item> items, PredictionFiles files, IProgress<int>? progress)
    {
        var all = items.ToList(); // names first: a file not named as KITTI names it fails before anything is written
        foreach (string? folder in new[] { files.Probabilities, files.Masks, files.Overlays })
            if (folder is not null)
                Directory.CreateDirectory(folder);
        int done = 0;
        foreach (var chunk in all.Chunk(predictor.Options.BatchSize))
        {
            var pairs = chunk.Select(Load).ToArray();
            var probabilities = predictor.PredictMany(pairs.Select(p => p.Image)).ToArray();
            for (int i = 0; i < chunk.Length; i++)
            {
                var p = probabilities[i];
                string name = MapName(chunk[i].ImagePath);
                if (files.Probabilities is { } maps)
                    ProbabilityMaps.Write(Path.Combine(maps, chunk[i].MapName), p);
                if (files.Masks is { } masks)
                    ImageFile.WriteGrayPng(Path.Combine(masks, name), p.Width, p.Height, Overlay.BinaryMask(p));
                if (files.Overlays is { } overlays)
                    ImageFile.WritePng(Path.Combine(overlays, name), Overlay.Road(pairs[i].Image, p, pairs[i].Label));
            }
            done += chunk.Length;
            progress?.Report(done);
        }
        return done;

        (RgbImage Image, byte[]? Label) Load(Item item) =>
            item.Sample is { LabelPath: not null } labelled && files.Overlays is not null
                ? KittiRoad.LoadPair(labelled)
                : (ImageFile.ReadRgb(item.ImagePath), null);
    }
}
