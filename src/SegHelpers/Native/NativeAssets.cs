using System.Reflection;
using System.Runtime.InteropServices;

namespace SegHelpers.Native;

/// <summary>
/// Lets a managed library find its native library in <c>runtimes/linux-x64/native</c> beside it. An application's
/// deps.json normally tells the runtime where that is; an assembly a notebook kernel loads with <c>#r "path.dll"</c>
/// has no such entry, and SkiaSharp's <c>libSkiaSharp.so</c> would not be found.
/// </summary>
static class NativeAssets
{
    /// <summary>
    /// Resolves <paramref name="library"/> (the name the assembly's imports use) for <paramref name="assembly"/> from its runtimes
    /// folder when the file (<paramref name="fileName"/>, else the name with <c>.so</c>) is there.
    /// </summary>
    public static void PreferRuntimesFolder(Assembly assembly, string library, string? fileName = null)
    {
        if (!OperatingSystem.IsLinux() || !RuntimeInformation.ProcessArchitecture.Equals(Architecture.X64))
            return;
        string? folder = Path.GetDirectoryName(assembly.Location);
        if (string.IsNullOrEmpty(folder))
            return;
        string file = Path.Combine(folder, "runtimes", "linux-x64", "native", fileName ?? library + ".so");
        try
        {
            NativeLibrary.SetDllImportResolver(assembly, (name, _, _) =>
                name == library && File.Exists(file) ? NativeLibrary.Load(file) : IntPtr.Zero);
        }
        catch (InvalidOperationException)
        {
            // The assembly already has a resolver (set by itself or by an earlier call); leave it in charge.
        }
    }
}
