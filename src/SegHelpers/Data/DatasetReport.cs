namespace SegHelpers.Data;

/// <summary>Label statistics of one KITTI category (or of all pooled).</summary>
/// <param name="Name">um, umm, uu, or all.</param>
/// <param name="Pairs">Labelled images.</param>
/// <param name="Road">Fraction of pixels that are road and evaluated.</param>
/// <param name="NonRoad">Fraction of pixels that are non-road and evaluated.</param>
/// <param name="DontCare">Fraction of pixels the benchmark ignores (black or blue in the label).</param>
public sealed record LabelStats(string Name, int Pairs, double Road, double NonRoad, double DontCare);

/// <summary>The calibration files (<c>training/calib</c>, <c>testing/calib</c>) found for a dataset's images; the bird's-eye view needs one per image.</summary>
/// <param name="Training">Labelled images with a readable calibration file.</param>
/// <param name="Testing">Test images with a readable calibration file.</param>
/// <param name="Missing">Images without one (their file names), training first.</param>
public sealed record CalibrationCount(int Training, int Testing, IReadOnlyList<string> Missing);

/// <summary>What <c>seg check</c> reports about a dataset: counts, sizes, class balance, calibration files and every problem found.</summary>
/// <param name="Root">The data_road folder.</param>
/// <param name="TrainingPairs">Labelled pairs.</param>
/// <param name="TestImages">Unlabelled test images.</param>
/// <param name="Categories">Label statistics per category.</param>
/// <param name="All">Label statistics pooled.</param>
/// <param name="ImageSizes">Training image sizes and how often each occurs.</param>
/// <param name="Problems">Broken files (an unreadable calibration file is one; a missing one is only counted in <paramref name="Calibration"/>).</param>
/// <param name="Calibration">Calibration files per split.</param>
public sealed record DatasetReport(
    string Root,
    int TrainingPairs,
    int TestImages,
    IReadOnlyList<LabelStats> Categories,
    LabelStats All,
    IReadOnlyDictionary<string, int> ImageSizes,
    IReadOnlyList<string> Problems,
    CalibrationCount Calibration)
{
    /// <summary>True when training can use the dataset: labelled pairs exist and no file is broken.</summary>
    public bool Usable => TrainingPairs > 0 && Problems.Count == 0;

    /// <summary>
    /// Opens the layout (a broken layout throws <see cref="BadInputException"/>), then decodes every
    /// pair and test image, collecting per-file problems instead of stopping at the first. <paramref name="progress"/> hears
    /// the number of files checked, out of the training pairs plus the test images.
    /// </summary>
    public static DatasetReport Build(string root, IProgress<int>? progress = null)
    {
        var data = KittiRoad.Open(root);
        var problems = new List<string>();
        var sizes = new Dictionary<string, int>();
        var counts = new Dictionary<RoadCategory, long[]>();
        int done = 0;
        var gate = new object();
        Parallel.ForEach(data.Training, sample =>
        {
            try
            {
                var (image, mask) = KittiRoad.LoadPair(sample);
                var c = new long[3];
                foreach (byte m in mask)
                    c[m == RoadLabel.Road ? 0 : m == RoadLabel.NonRoad ? 1 : 2]++;
                lock (gate)
                {
                    string size = $"{image.Width}x{image.Height}";
                    sizes[size] = sizes.GetValueOrDefault(size) + 1;
                    var total = counts.TryGetValue(sample.Category, out var t) ? t : counts[sample.Category] = new long[4];
                    for (int i = 0; i < 3; i++)
                        total[i] += c[i];
                    total[3]++;
                }
            }
            catch (BadInputException e)
            {
                lock (gate)
                    problems.Add(e.Message);
            }
            progress?.Report(Interlocked.Increment(ref done));
        });
        foreach (var sample in data.Testing)
        {
            try
            {
                ImageFile.ReadRgb(sample.ImagePath);
            }
            catch (BadInputException e)
            {
                problems.Add(e.Message);
            }
            progress?.Report(++done);
        }
        var missing = new List<string>();
        int Calibrated(IEnumerable<KittiSample> samples, string split)
        {
            int found = 0;
            string folder = Path.Combine(data.Root, split, "calib");
            foreach (var sample in samples)
            {
                string? file = Directory.Exists(folder) ? KittiCalibration.Find(folder, Path.GetFileName(sample.ImagePath)) : null;
                if (file is null)
                {
                    missing.Add(Path.GetFileName(sample.ImagePath));
                    continue;
                }
                try
                {
                    KittiCalibration.Read(file);
                    found++;
                }
                catch (BadInputException e)
                {
                    problems.Add(e.Message);
                }
            }
            return found;
        }
        var calibration = new CalibrationCount(Calibrated(data.Training, "training"), Calibrated(data.Testing, "testing"), missing);
        problems.Sort(StringComparer.Ordinal);

        var categories = counts.OrderBy(kv => kv.Key).Select(kv => Stats(kv.Key.ToString().ToLowerInvariant(), kv.Value)).ToList();
        var pooled = new long[4];
        foreach (var c in counts.Values)
            for (int i = 0; i < 4; i++)
                pooled[i] += c[i];
        return new DatasetReport(data.Root, data.Training.Count, data.Testing.Count, categories, Stats("all", pooled),
            sizes.OrderByDescending(kv => kv.Value).ThenBy(kv => kv.Key).ToDictionary(), problems, calibration);
    }

    static LabelStats Stats(string name, long[] c)
    {
        double total = Math.Max(1, c[0] + c[1] + c[2]);
        return new LabelStats(name, (int)c[3], c[0] / total, c[1] / total, c[2] / total);
    }
}
