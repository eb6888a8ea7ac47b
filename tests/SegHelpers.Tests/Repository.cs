namespace SegHelpers.Tests;

/// <summary>The repository the tests were built from (found above the test binaries).</summary>
static class Repository
{
    public static string Root { get; } = Find();

    public static string Path(string relative) => System.IO.Path.Combine(Root, relative);

    static string Find()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(System.IO.Path.Combine(dir.FullName, "Seg.sln")))
                return dir.FullName;
        throw new DirectoryNotFoundException("Seg.sln not found above the test binaries");
    }
}
