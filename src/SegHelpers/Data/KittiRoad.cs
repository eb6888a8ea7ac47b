using System.Text.RegularExpressions;

namespace SegHelpers.Data;

/// <summary>The three KITTI Road scene categories.</summary>
public enum RoadCategory
{
    /// <summary>Urban marked (um).</summary>
    Um,
    /// <summary>Urban multiple marked lanes (umm).</summary>
    Umm,
    /// <summary>Urban unmarked (uu).</summary>
    Uu,
}

/// <summary>Which ground truth to pair with the images: the road area, or the ego lane (um only).</summary>
public enum KittiTask
{
    /// <summary><c>{cat}_road_NNNNNN.png</c> labels.</summary>
    Road,
    /// <summary><c>um_lane_NNNNNN.png</c> labels; only um images have them.</summary>
    Lane,
}

/// <summary>One KITTI Road image and, in training, its label file.</summary>
public sealed record KittiSample(RoadCategory Category, int Number, string ImagePath, string? LabelPath)
{
    /// <summary>The lower-case category prefix: um, umm or uu.</summary>
    public string Prefix => Category.ToString().ToLowerInvariant();

    /// <summary>The image's name without extension, e.g. <c>umm_000012</c>.</summary>
    public string Id => $"{Prefix}_{Number:D6}";

    /// <summary>The file name the KITTI submission and devkit use for this image's road result.</summary>
    public string ResultName(KittiTask task = KittiTask.Road) =>
        $"{Prefix}_{(task == KittiTask.Road ? "road" : "lane")}_{Number:D6}.png";
}

/// <summary>
/// A KITTI Road dataset in the official <c>data_road</c> layout:
/// <c>training/image_2/{um,umm,uu}_NNNNNN.png</c>, <c>training/gt_image_2/{cat}_road_NNNNNN.png</c>
/// (and <c>um_lane_NNNNNN.png</c>), and unlabelled <c>testing/image_2</c>.
/// </summary>
public sealed partial class KittiRoad
{
    KittiRoad(string root, KittiTask task, IReadOnlyList<KittiSample> training, IReadOnlyList<KittiSample> testing)
    {
        Root = root;
        Task = task;
        Training = training;
        Testing = testing;
    }

    /// <summary>The folder holding <c>training/</c> and <c>testing/</c>.</summary>
    public string Root { get; }

    /// <summary>Which labels were paired.</summary>
    public KittiTask Task { get; }

    /// <summary>Labelled images, ordered by category and number.</summary>
    public IReadOnlyList<KittiSample> Training { get; }

    /// <summary>Unlabelled test images (empty when <c>testing/image_2</c> is absent).</summary>
    public IReadOnlyList<KittiSample> Testing { get; }

    [GeneratedRegex(@"^(um|umm|uu)_(\d{6})\.png$")]
    private static partial Regex ImageName();

    [GeneratedRegex(@"^(um|umm|uu)_(road|lane)_(\d{6})\.png$")]
    private static partial Regex LabelName();

    /// <summary>
    /// Reads the layout under <paramref name="root"/> (or <c>root/data_road</c>) and pairs each
    /// training image with its label. Missing folders, unpaired files and unexpected names are a
    /// <see cref="BadInputException"/> that lists them.
    /// </summary>
    public static KittiRoad Open(string root, KittiTask task = KittiTask.Road)
    {
        string full = Path.GetFullPath(root);
        if (!Directory.Exists(full))
            throw new BadInputException(full, "folder not found",
                "pass the KITTI data_road folder (it holds training/ and testing/), or make synthetic data with `seg synth --out " + root + "`");
        if (!Directory.Exists(Path.Combine(full, "training")) && Directory.Exists(Path.Combine(full, "data_road", "training")))
            full = Path.Combine(full, "data_road");

        string images = Path.Combine(full, "training", "image_2");
        string labels = Path.Combine(full, "training", "gt_image_2");
        foreach (var dir in new[] { images, labels })
            if (!Directory.Exists(dir))
                throw new BadInputException(dir, "folder not found",
                    "unpack data_road.zip so that training/image_2 and training/gt_image_2 exist, or point --data at the folder that holds training/");

        var imageFiles = ListImages(images);
        var labelFiles = new Dictionary<(RoadCategory, int), string>();
        var strangeLabels = new List<string>();
        foreach (string file in Directory.EnumerateFiles(labels, "*.png").Order(StringComparer.Ordinal))
        {
            var m = LabelName().Match(Path.GetFileName(file));
            if (!m.Success)
            {
                strangeLabels.Add(Path.GetFileName(file));
                continue;
            }
            if ((m.Groups[2].Value == "road") == (task == KittiTask.Road))
                labelFiles[(ParseCategory(m.Groups[1].Value), int.Parse(m.Groups[3].Value))] = file;
        }
        if (strangeLabels.Count > 0)
            throw new BadInputException(labels, $"unexpected file name(s) {Few(strangeLabels)}",
                "labels must be named {um,umm,uu}_road_NNNNNN.png (or um_lane_NNNNNN.png); move other files elsewhere");

        var training = new List<KittiSample>();
        var unlabelled = new List<string>();
        foreach (var (key, file) in imageFiles)
        {
            if (labelFiles.Remove(key, out var label))
                training.Add(new KittiSample(key.Category, key.Number, file, label));
            else if (task == KittiTask.Road || key.Category == RoadCategory.Um)
                unlabelled.Add(Path.GetFileName(file));
        }
        if (unlabelled.Count > 0)
            throw new BadInputException(images, $"{unlabelled.Count} image(s) have no label in gt_image_2: {Few(unlabelled)}",
                "restore the missing label files, or move those images out of training/image_2");
        if (labelFiles.Count > 0)
            throw new BadInputException(labels, $"{labelFiles.Count} label(s) have no image in image_2: {Few(labelFiles.Values.Select(Path.GetFileName).ToList()!)}",
                "restore the missing images, or delete those labels");
        if (training.Count == 0)
            throw new BadInputException(images, "no training images", "unpack data_road.zip here, or make synthetic data with `seg synth`");

        string testDir = Path.Combine(full, "testing", "image_2");
        var testing = Directory.Exists(testDir)
            ? ListImages(testDir).Select(p => new KittiSample(p.Key.Category, p.Key.Number, p.Value, null)).ToList()
            : [];
        return new KittiRoad(full, task, training, testing);
    }

    /// <summary>Decodes a labelled sample: the RGB image and per-pixel classes (see <see cref="RoadLabel"/>). Sizes must match.</summary>
    public static (RgbImage Image, byte[] Mask) LoadPair(KittiSample sample)
    {
        if (sample.LabelPath is null)
            throw new ArgumentException($"{sample.Id} is a test image and has no label", nameof(sample));
        var image = ImageFile.ReadRgb(sample.ImagePath);
        var label = ImageFile.ReadRgb(sample.LabelPath);
        if (image.Width != label.Width || image.Height != label.Height)
            throw new BadInputException(sample.LabelPath,
                $"label is {label.Width}x{label.Height} but its image {sample.ImagePath} is {image.Width}x{image.Height}",
                "every label must have its image's size; replace the label with the one from the same dataset release");
        return (image, RoadLabel.Decode(label, sample.LabelPath));
    }

    /// <summary>
    /// The sample an image file stands for, from its KITTI name (<c>{um,umm,uu}_NNNNNN.png</c>, any folder); a clear error
    /// for any other name.
    /// </summary>
    public static KittiSample SampleOf(string imagePath, string? labelPath = null)
    {
        var m = ImageName().Match(Path.GetFileName(imagePath));
        if (!m.Success)
            throw new BadInputException(imagePath, "is not named like a KITTI Road image ({um,umm,uu}_NNNNNN.png)", "rename the images as KITTI does, or do not ask for KITTI names");
        return new KittiSample(ParseCategory(m.Groups[1].Value), int.Parse(m.Groups[2].Value), imagePath, labelPath);
    }

    static SortedDictionary<(RoadCategory Category, int Number), string> ListImages(string dir)
    {
        var found = new SortedDictionary<(RoadCategory, int), string>();
        var strange = new List<string>();
        foreach (string file in Directory.EnumerateFiles(dir, "*.png"))
        {
            var m = ImageName().Match(Path.GetFileName(file));
            if (m.Success)
                found[(ParseCategory(m.Groups[1].Value), int.Parse(m.Groups[2].Value))] = file;
            else
                strange.Add(Path.GetFileName(file));
        }
        if (strange.Count > 0)
            throw new BadInputException(dir, $"unexpected file name(s) {Few(strange.Order(StringComparer.Ordinal).ToList())}",
                "images must be named {um,umm,uu}_NNNNNN.png; move other files elsewhere");
        return found;
    }

    static RoadCategory ParseCategory(string prefix) => prefix switch
    {
        "um" => RoadCategory.Um,
        "umm" => RoadCategory.Umm,
        _ => RoadCategory.Uu,
    };

    static string Few(IReadOnlyList<string> names) =>
        string.Join(", ", names.Take(5)) + (names.Count > 5 ? $" and {names.Count - 5} more" : "");
}
