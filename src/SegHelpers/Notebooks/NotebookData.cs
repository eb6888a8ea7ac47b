using SegHelpers.Data;

namespace SegHelpers.Notebooks;

/// <summary>Where the notebooks find their data: a KITTI folder the user names, or the synthetic default under the artifacts folder.</summary>
public static class NotebookData
{
    /// <summary>
    /// <paramref name="dataDir"/> when it is not empty; otherwise <c>ARTIFACTS/data</c>, written by the synthetic
    /// generator (<paramref name="count"/> scenes, <paramref name="seed"/>) unless an earlier notebook already wrote it.
    /// </summary>
    public static string Folder(string artifacts, string dataDir = "", int count = 40, int seed = 1)
    {
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
