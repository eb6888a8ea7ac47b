namespace SegNotebooks;

/// <summary>The managed assemblies the executor was started with (the runtime's trusted platform assemblies).</summary>
static class HostAssemblies
{
    /// <summary>Their files.</summary>
    public static readonly Lazy<IReadOnlyList<string>> Paths = new(() =>
        [.. ((AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES") as string) ?? "")
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Where(p => p.EndsWith(".dll", StringComparison.OrdinalIgnoreCase))]);

    /// <summary>Their simple names (SegHelpers, TorchSharp…), case-insensitive.</summary>
    public static readonly Lazy<HashSet<string>> Names = new(() =>
        new HashSet<string>(Paths.Value.Select(Path.GetFileNameWithoutExtension).OfType<string>(), StringComparer.OrdinalIgnoreCase));
}
