using SegHelpers.Data;

namespace SegHelpers.Evaluation;

/// <summary>What <see cref="BirdsEyeViews.TransformFiles"/> did with one input: the file written, or why not.</summary>
public sealed record BirdsEyeViewFile(string Input, string? Output, string? Error);

/// <summary>
/// Bird's-eye views for many files: the calibration comes from one file for all, or from a folder per file under the
/// devkit's names (<see cref="KittiCalibration.Find"/>); the last few lookups are kept, one per calibration and image size.
/// </summary>
public sealed class BirdsEyeViews
{
    readonly Dictionary<(string Calibration, int Width, int Height), BirdsEyeView> _lookups = [];
    readonly Dictionary<string, KittiCalibration> _calibrations = [];
    readonly Lock _gate = new();
    const int MaxLookups = 16;

    /// <summary>Views from <paramref name="calibration"/>: a calibration file, or a folder of them (KITTI's <c>calib/</c>).</summary>
    public BirdsEyeViews(string calibration)
    {
        Calibration = Path.GetFullPath(calibration);
        if (!File.Exists(Calibration) && !Directory.Exists(Calibration))
            throw new BadInputException(Calibration, "calibration file or folder not found",
                "pass KITTI's training/calib or testing/calib folder (one um_NNNNNN.txt per image), or one calibration file");
    }

    /// <summary>The calibration file or folder.</summary>
    public string Calibration { get; }

    /// <summary>The calibration file for an image or result named <paramref name="fileName"/>, or null when the folder has none.</summary>
    public string? CalibrationFor(string fileName) =>
        File.Exists(Calibration) ? Calibration : KittiCalibration.Find(Calibration, Path.GetFileName(fileName));

    /// <summary>
    /// Fails, naming them, when any of <paramref name="fileNames"/> has no calibration file; call it before long work.
    /// </summary>
    public void RequireAll(IEnumerable<string> fileNames)
    {
        var missing = fileNames.Select(Path.GetFileName).Where(n => CalibrationFor(n!) is null).ToList();
        if (missing.Count > 0)
            throw new BadInputException(Calibration,
                $"has no calibration for {missing.Count} image(s): {string.Join(", ", missing.Take(5))}{(missing.Count > 5 ? $" and {missing.Count - 5} more" : "")}",
                "KITTI's calib/ folder holds {cat}_NNNNNN.txt for every image (in data_road.zip, the base kit); copy the missing files there, or pass the right folder");
    }

    /// <summary>The lookup for the image named <paramref name="fileName"/> at <paramref name="width"/>×<paramref name="height"/>.</summary>
    public BirdsEyeView For(string fileName, int width, int height)
    {
        string calibration = CalibrationFor(fileName)
            ?? throw new BadInputException(Path.Combine(Calibration, KittiCalibration.Names(fileName)[^1]),
                $"calibration file not found for {Path.GetFileName(fileName)}",
                "KITTI's calib/ folder holds {cat}_NNNNNN.txt for every image (in data_road.zip, the base kit); pass the folder that holds it");
        lock (_gate)
        {
            if (_lookups.TryGetValue((calibration, width, height), out var found))
                return found;
            if (_lookups.Count >= MaxLookups) // KITTI has a calibration per image: a lookup (1.3 MB) is rarely used twice
            {
                _lookups.Clear();
                _calibrations.Clear();
            }
            if (!_calibrations.TryGetValue(calibration, out var parsed))
                _calibrations[calibration] = parsed = KittiCalibration.Read(calibration);
            return _lookups[(calibration, width, height)] = BirdsEyeView.For(parsed, width, height);
        }
    }

    /// <summary>
    /// Writes the bird's-eye view of every PNG in <paramref name="inputs"/> into <paramref name="outDir"/> under its own name,
    /// keeping its kind (grayscale stays grayscale, RGB stays RGB), atomically, as the devkit's <c>transform2BEV.py</c> does.
    /// A file that cannot be read or has no calibration is reported in its result; the others are still written.
    /// </summary>
    public IReadOnlyList<BirdsEyeViewFile> TransformFiles(IReadOnlyList<string> inputs, string outDir, IProgress<int>? progress = null)
    {
        Directory.CreateDirectory(outDir);
        var results = new BirdsEyeViewFile[inputs.Count];
        int done = 0;
        Parallel.For(0, inputs.Count, i =>
        {
            string input = inputs[i];
            try
            {
                var (width, height, channels, pixels) = ImageFile.ReadPixels(input);
                var view = For(input, width, height);
                string output = Path.Combine(outDir, Path.GetFileNameWithoutExtension(input) + ".png");
                ImageFile.WritePixels(output, BirdsEyeView.Width, BirdsEyeView.Height, channels, view.Map(pixels, channels));
                results[i] = new BirdsEyeViewFile(input, output, null);
            }
            catch (BadInputException e)
            {
                results[i] = new BirdsEyeViewFile(input, null, e.Message);
            }
            progress?.Report(Interlocked.Increment(ref done));
        });
        return results;
    }

    /// <summary>The PNG files <paramref name="input"/> names: itself, or the PNGs in the folder, in order.</summary>
    public static IReadOnlyList<string> PngFiles(string input)
    {
        if (File.Exists(input))
            return [Path.GetFullPath(input)];
        if (!Directory.Exists(input))
            throw new BadInputException(input, "not found", "pass a PNG (a label, a probability map or a camera image) or a folder of them");
        var files = Directory.GetFiles(input, "*.png").Order(StringComparer.Ordinal).ToList();
        return files.Count > 0 ? files : throw new BadInputException(input, "holds no .png files", "point --input at a folder of KITTI PNGs");
    }
}
