using SegHelpers.Data;

namespace SegHelpers.Notebooks;

/// <summary>Where the notebooks find their data: a KITTI folder the user names, the downloaded KITTI kit, or the synthetic default.</summary>
public static class NotebookData
{
    /// <summary>
    /// <c>kitti</c>: the KITTI Road base kit in <see cref="KittiRoadDownload.DefaultFolder"/>, downloaded and checked the first
    /// time; another non-empty <paramref name="dataDir"/>: that folder; empty: <c>ARTIFACTS/data</c>, written by the synthetic
    /// generator (<paramref name="count"/> scenes, <paramref name="seed"/>) unless an earlier notebook already wrote it.
    /// </summary>
    public static string Folder(string artifacts, string dataDir = "", int count = 40, int seed = 1)
    {
        if (dataDir.Equals(KittiRoadDownload.Keyword, StringComparison.OrdinalIgnoreCase))
            return KittiRoadDownload.Fetch(KittiRoadDownload.DefaultFolder(), download: new Downloads.DownloadLog("data_road.zip", Console.WriteLine, TimeSpan.FromSeconds(10))).Root;
        if (dataDir.Length > 0)
            return Path.GetFullPath(dataDir);
        string folder = Path.GetFullPath(Path.Combine(artifacts, "data"));
        if (!Directory.Exists(Path.Combine(folder, "training", "image_2")))
        {
            SyntheticRoads.Write(folder, new SyntheticOptions(count, seed));
            Console.WriteLine($"wrote {count} synthetic KITTI scenes to {folder}");
        }
        return folder;
    }
}
