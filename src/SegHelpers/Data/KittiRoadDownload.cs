using System.IO.Compression;
using SegHelpers.Downloads;

namespace SegHelpers.Data;

/// <summary>
/// The KITTI Road base kit (<c>data_road.zip</c>, about 450 MB: 289 labelled training pairs and 290 test images): downloaded
/// resumably, extracted safely into <c>OUT/data_road</c>, and checked by <see cref="DatasetReport"/>. The extraction goes to a
/// temporary folder renamed at the end, so a half-extracted kit never looks complete. <c>SEG_KITTI_URL</c> or an explicit URL
/// overrides the source.
/// </summary>
public static class KittiRoadDownload
{
    /// <summary>The value of the notebooks' <c>DataDir</c> that means this kit, fetched if missing.</summary>
    public const string Keyword = "kitti";

    /// <summary>Where the notebooks keep the kit: <c>SEG_KITTI_DIR</c>, else <c>~/.cache/seg/kitti</c> (on SageMaker, setup.sh points it at the persistent volume).</summary>
    public static string DefaultFolder() =>
        Environment.GetEnvironmentVariable("SEG_KITTI_DIR") is { Length: > 0 } env
            ? env
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache", "seg", "kitti");

    /// <summary>The KITTI project's download address of the base kit.</summary>
    public static readonly Uri DefaultUrl = new("https://s3.eu-central-1.amazonaws.com/avg-kitti/data_road.zip");

    /// <summary>Labelled pairs and test images in the real base kit.</summary>
    public const int TrainingPairs = 289, TestImages = 290;

    /// <summary>The dataset's licence, as its authors state it.</summary>
    public const string Licence =
        "KITTI Road is © Andreas Geiger, Philip Lenz, Raquel Urtasun, Jannik Fritsch and Tobias Kühnl, published under the Creative Commons " +
        "Attribution-NonCommercial-ShareAlike 3.0 licence (CC BY-NC-SA 3.0): non-commercial use, with attribution, sharing alike.";

    /// <summary>The paper to cite when using it.</summary>
    public const string Citation =
        "J. Fritsch, T. Kühnl and A. Geiger, \"A New Performance Measure and Evaluation Benchmark for Road Detection Algorithms\", " +
        "International Conference on Intelligent Transportation Systems (ITSC), 2013.";

    /// <summary>The download address: <paramref name="url"/>, else <c>SEG_KITTI_URL</c>, else <see cref="DefaultUrl"/>.</summary>
    public static Uri Source(Uri? url = null) =>
        url ?? (Environment.GetEnvironmentVariable("SEG_KITTI_URL") is { Length: > 0 } env ? new Uri(env) : DefaultUrl);

    /// <summary>
    /// Makes sure <c><paramref name="outDir"/>/data_road</c> holds the kit: downloads the zip (resuming a partial one), extracts it
    /// and checks it. An existing <c>data_road</c> folder is checked, not fetched again.
    /// </summary>
    /// <exception cref="BadInputException">The download failed, the zip is corrupt, unsafe or has no labels, or the kit does not check out.</exception>
    public static DatasetReport Fetch(string outDir, Uri? url = null, IProgress<DownloadProgress>? download = null, IProgress<int>? check = null, DownloadOptions? options = null)
    {
        outDir = Path.GetFullPath(outDir);
        string root = Path.Combine(outDir, "data_road");
        if (!Directory.Exists(root))
        {
            string zip = Downloader.Fetch(Source(url), Path.Combine(outDir, "data_road.zip"), options: options, progress: download);
            Extract(zip, outDir);
        }
        var report = DatasetReport.Build(root, check);
        if (!report.Usable)
            throw new BadInputException(root, $"does not check out ({report.Problems.Count} problems, first: {report.Problems.FirstOrDefault() ?? "no labelled pairs"})",
                $"delete {root} and {Path.Combine(outDir, "data_road.zip")} and fetch again");
        return report;
    }

    /// <summary>
    /// Extracts <paramref name="zip"/>'s <c>data_road/</c> into <paramref name="outDir"/>: every entry is checked to land inside
    /// the folder before anything is written, the kit must have training labels, and the result appears only when complete.
    /// </summary>
    public static void Extract(string zip, string outDir)
    {
        string staging = Path.Combine(outDir, $".data_road.{Guid.NewGuid():N}.partial");
        try
        {
            var archive = OpenZip(zip);
            using (archive)
            {
                string stagingRoot = Path.GetFullPath(staging) + Path.DirectorySeparatorChar;
                foreach (var entry in archive.Entries)
                {
                    string target = Path.GetFullPath(Path.Combine(staging, entry.FullName));
                    if (!target.StartsWith(stagingRoot, StringComparison.Ordinal) || Path.IsPathRooted(entry.FullName))
                        throw new BadInputException(zip, $"has an entry that would land outside {outDir} ({entry.FullName}); nothing was extracted",
                            "delete the zip and fetch it again from the KITTI site; do not extract it by hand");
                }
                if (!archive.Entries.Any(e => e.FullName.Replace('\\', '/').Contains("training/gt_image_2/", StringComparison.Ordinal) && e.Length > 0))
                    throw new BadInputException(zip, "has no training labels (no data_road/training/gt_image_2/ files); nothing was extracted",
                        "this is not the KITTI Road base kit (data_road.zip); delete it and fetch again");
                try
                {
                    archive.ExtractToDirectory(staging);
                }
                catch (InvalidDataException e)
                {
                    throw Corrupt(zip, e);
                }
            }
            string extracted = Path.Combine(staging, "data_road");
            if (!Directory.Exists(extracted))
                throw new BadInputException(zip, "has no data_road/ folder at its top", "this is not the KITTI Road base kit; delete it and fetch again");
            Directory.Move(extracted, Path.Combine(outDir, "data_road"));
        }
        finally
        {
            if (Directory.Exists(staging))
                Directory.Delete(staging, recursive: true);
        }
    }

    static ZipArchive OpenZip(string zip)
    {
        try
        {
            return ZipFile.OpenRead(zip);
        }
        catch (InvalidDataException e)
        {
            throw Corrupt(zip, e);
        }
    }

    /// <summary>A corrupt zip is deleted (a damaged download), so the next fetch downloads it again.</summary>
    static BadInputException Corrupt(string zip, Exception e)
    {
        File.Delete(zip);
        return new BadInputException(zip, $"is not a readable zip ({e.Message}); it was deleted and nothing was extracted", "run the same fetch again to download it anew", e);
    }
}
