namespace SegHelpers;

/// <summary>Writes files so that readers see either the old file or the complete new one, never a torn one.</summary>
public static class AtomicFile
{
    /// <summary>Writes through a temporary file in the same folder, flushed to disk, then renamed over <paramref name="path"/>.</summary>
    public static void Write(string path, Action<Stream> write)
    {
        string full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        string temp = $"{full}.{Guid.NewGuid():N}.tmp";
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            {
                write(stream);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, full, overwrite: true);
        }
        finally
        {
            if (File.Exists(temp))
                File.Delete(temp);
        }
    }

    /// <summary>The file whose temporary <paramref name="path"/> is (left behind by a process that died mid-write), or null.</summary>
    public static string? TargetOfLeftover(string path) =>
        System.Text.RegularExpressions.Regex.Match(path, @"^(?<target>.+)\.[0-9a-f]{32}\.tmp$") is { Success: true } m ? m.Groups["target"].Value : null;

    /// <summary>True when <paramref name="e"/> says the disk is full (ENOSPC).</summary>
    public static bool IsDiskFull(Exception e) => (e.HResult & 0xFFFF) == 28 || e.Message.Contains("No space left", StringComparison.OrdinalIgnoreCase);

    /// <summary>Writes text atomically (UTF-8, no BOM).</summary>
    public static void WriteText(string path, string text) =>
        Write(path, stream =>
        {
            var bytes = new System.Text.UTF8Encoding(false).GetBytes(text);
            stream.Write(bytes);
        });
}
