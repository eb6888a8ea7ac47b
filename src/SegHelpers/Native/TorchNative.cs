using System.Reflection;
using TorchSharp;

namespace SegHelpers.Native;

/// <summary>
/// Makes TorchSharp's native library loadable on systems whose libstdc++ predates GCC 13
/// (Debian 12, Ubuntu 22.04, Amazon Linux 2023) before TorchSharp first touches it.
/// Builds already patch their outputs; this covers every other way TorchSharp gets loaded
/// (a script host, a notebook kernel, a copy made at run time).
/// </summary>
public static class TorchNative
{
    static readonly object Gate = new();
    static bool _done;

    /// <summary>The TorchBackend this library was built with: <c>cpu</c>, <c>cuda</c> or <c>none</c> (ONNX Runtime only).</summary>
    public static string Backend { get; } =
        typeof(TorchNative).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().FirstOrDefault(a => a.Key == "SegTorchBackend")?.Value ?? "cpu";

    /// <summary>
    /// Patches every copy of libLibTorchSharp.so that TorchSharp may load, loads libtorch, and lets SkiaSharp find its
    /// native library beside it (for notebook kernels that reference the build output by path), and switches off NNPACK where
    /// it cannot initialise (<see cref="Nnpack"/>), once per process.
    /// Throws <see cref="InvalidOperationException"/> naming the file and the fix when a copy
    /// that needs the patch cannot be patched.
    /// </summary>
    public static void EnsureLoadable()
    {
        lock (Gate)
        {
            if (_done)
                return;
            if (OperatingSystem.IsLinux() && ElfWeakReference.SystemNeedsPatch())
                foreach (string path in CandidateLibraries())
                    Patch(path);
            NativeAssets.PreferRuntimesFolder(typeof(SkiaSharp.SKImageInfo).Assembly, "libSkiaSharp");
            bool cudaBuild = PreloadBesideAssembly();
            // TorchSharp finds its native library (also from a notebook kernel's NuGet restore) only on this path;
            // code that starts with a module constructor rather than a tensor factory would otherwise miss it.
            // A CUDA build is initialised for CUDA first, as TorchSharp asks of scripts and notebooks; without a usable GPU
            // that throws, and the CPU backend of the same build is used.
            if (cudaBuild)
            {
                try
                {
                    torch.InitializeDeviceType(DeviceType.CUDA);
                }
                catch (Exception e) when (e is not OutOfMemoryException)
                {
                    torch.InitializeDeviceType(DeviceType.CPU);
                }
            }
            else
            {
                try
                {
                    torch.InitializeDeviceType(DeviceType.CPU);
                }
                catch (Exception e) when (e is TypeInitializationException or DllNotFoundException or NotSupportedException)
                {
                    throw new LibtorchMissingException(Backend, e);
                }
            }
            Nnpack.DisableWhereUnsupported();
            _done = true;
        }
    }

    /// <summary>
    /// Loads libLibTorchSharp.so from the build output TorchSharp.dll sits in, when libtorch is there too. A notebook kernel
    /// that references that build by path has no deps.json for TorchSharp's own loader to follow ("doesn't contain a
    /// reference to libtorch-cpu-linux-x64"); once loaded by path, TorchSharp finds it by name.
    /// </summary>
    /// <returns>True when the build beside TorchSharp.dll is TorchSharp-cuda's (libtorch_cuda.so is there).</returns>
    static bool PreloadBesideAssembly()
    {
        if (!OperatingSystem.IsLinux() || Path.GetDirectoryName(typeof(torch).Assembly.Location) is not { Length: > 0 } managed)
            return false;
        foreach (string dir in new[] { managed, Path.Combine(managed, "runtimes", "linux-x64", "native") })
        {
            string library = Path.Combine(dir, "libLibTorchSharp.so");
            if (File.Exists(library) && File.Exists(Path.Combine(dir, "libtorch.so")))
            {
                System.Runtime.InteropServices.NativeLibrary.Load(library);
                return File.Exists(Path.Combine(dir, "libtorch_cuda.so"));
            }
        }
        return false;
    }

    /// <summary>Patches one copy, with an error that says what to do when it cannot be written.</summary>
    public static ElfPatchResult Patch(string path)
    {
        try
        {
            return ElfWeakReference.PatchFile(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException)
        {
            throw new InvalidOperationException(
                $"TorchSharp's native library {path} needs {ElfWeakReference.IostreamAnchorVersion}, which this system's " +
                $"libstdc++ ({ElfWeakReference.LoadedLibStdCxx()}) lacks, and it could not be patched: {e.Message}. " +
                "Fix: make that file writable by this user (or delete it and run `dotnet build` again).", e);
        }
    }

    /// <summary>Every existing copy of libLibTorchSharp.so that TorchSharp's loader may pick.</summary>
    public static IReadOnlyList<string> CandidateLibraries()
    {
        const string name = "libLibTorchSharp.so";
        var dirs = new List<string>();
        string? managed = Path.GetDirectoryName(typeof(torch).Assembly.Location);
        if (!string.IsNullOrEmpty(managed))
        {
            dirs.Add(managed);
            dirs.Add(Path.Combine(managed, "runtimes", "linux-x64", "native"));
            dirs.Add(Path.Combine(managed, "cpu"));
            dirs.Add(Path.Combine(managed, "cuda"));
        }
        if (AppContext.GetData("NATIVE_DLL_SEARCH_DIRECTORIES") is string searchDirs)
            dirs.AddRange(searchDirs.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries));
        string? version = typeof(torch).Assembly.GetName().Version?.ToString(3);
        if (version != null)
            dirs.Add(Path.Combine(NuGetPackagesFolder(), "torchsharp", version, "runtimes", "linux-x64", "native"));

        return dirs
            .Select(d => Path.GetFullPath(Path.Combine(d, name)))
            .Distinct(StringComparer.Ordinal)
            .Where(File.Exists)
            .ToList();
    }

    internal static string NuGetPackagesFolder() =>
        Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } custom
            ? custom
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");

    /// <summary>A one-line description of the TorchSharp runtime in use: version, backend and device.</summary>
    public static string Describe()
    {
        EnsureLoadable();
        string version = typeof(torch).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
                         ?? typeof(torch).Assembly.GetName().Version?.ToString() ?? "?";
        bool cuda = torch.cuda.is_available();
        return $"TorchSharp {version.Split('+')[0]}, libtorch {torch.__version__}, " +
               (cuda ? $"CUDA with {torch.cuda.device_count()} device(s)" : "CPU") +
               $", {torch.get_num_threads()} threads";
    }
}
