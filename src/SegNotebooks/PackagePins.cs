using System.Text.Json;

namespace SegNotebooks;

/// <summary>
/// The NuGet packages the executor can satisfy a <c>#r "nuget: Id, Version"</c> with: those the host application
/// was built with, read from its <c>.deps.json</c> (projects such as SegHelpers included, at their version).
/// The executor never restores; anything else is an error that names the package.
/// </summary>
public sealed class PackagePins
{
    readonly Dictionary<string, string> _versions;

    PackagePins(Dictionary<string, string> versions) => _versions = versions;

    /// <summary>Package id → version, case-insensitive.</summary>
    public IReadOnlyDictionary<string, string> Versions => _versions;

    /// <summary>The host's packages (empty when it has no deps file).</summary>
    public static PackagePins FromHost()
    {
        var versions = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        var files = (AppContext.GetData("APP_CONTEXT_DEPS_FILES") as string ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries).ToList();
        if (System.Reflection.Assembly.GetEntryAssembly()?.GetName().Name is { } entry)
            files.Add(Path.Combine(AppContext.BaseDirectory, entry + ".deps.json"));
        foreach (var file in files.Distinct().Where(File.Exists))
        {
            using var json = JsonDocument.Parse(File.ReadAllText(file));
            if (!json.RootElement.TryGetProperty("libraries", out var libraries))
                continue;
            foreach (var library in libraries.EnumerateObject())
            {
                var type = library.Value.TryGetProperty("type", out var t) ? t.GetString() : null;
                int slash = library.Name.LastIndexOf('/');
                if (slash > 0 && type is "package" or "project")
                    versions.TryAdd(library.Name[..slash], library.Name[(slash + 1)..]);
            }
        }
        return new PackagePins(versions);
    }

    /// <summary>Checks a <c>#r "nuget: …"</c> request; throws <see cref="NotebookDirectiveException"/> naming what cannot be satisfied.</summary>
    public void Require(string id, string? version)
    {
        if (!_versions.TryGetValue(id, out var pinned))
            throw new NotebookDirectiveException($"#r \"nuget: {id}{(version is null ? "" : ", " + version)}\": the executor does not ship package {id} and cannot restore packages. " +
                $"It ships: {string.Join(", ", _versions.Where(v => !v.Key.StartsWith("runtime.", StringComparison.Ordinal)).Select(v => $"{v.Key} {v.Value}").Order().Take(40))}");
        if (version is not null && version != "*" && !string.Equals(version, pinned, StringComparison.OrdinalIgnoreCase))
            throw new NotebookDirectiveException($"#r \"nuget: {id}, {version}\": the executor ships {id} {pinned}, not {version}; change the notebook to {pinned}");
    }
}

/// <summary>A notebook directive (<c>#r</c>, <c>#i</c>, <c>#!</c>) the headless executor cannot honour.</summary>
public sealed class NotebookDirectiveException(string message) : Exception(message);
