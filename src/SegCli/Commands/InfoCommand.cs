using System.CommandLine;
using SegHelpers.Native;

namespace SegCli.Commands;

/// <summary><c>seg info</c>: which TorchSharp, libtorch and device this machine runs, and which Linux can load this build.</summary>
static class InfoCommand
{
    public static Command Create()
    {
        var command = new Command("info", "Show the TorchSharp runtime, backend and device, whether the libstdc++ patch was needed, and which Linux releases can load every native library of this process.");
        command.SetAction(_ => Cli.Run(() =>
        {
            TorchNative.EnsureLoadable();
            Console.WriteLine(TorchNative.Describe());
            Console.WriteLine($"allocator: {FastAllocator.Describe()}");
            Console.WriteLine($"libstdc++ {ElfWeakReference.LoadedLibStdCxx() ?? "(none)"}: " +
                              (ElfWeakReference.SystemNeedsPatch()
                                  ? $"lacks {ElfWeakReference.IostreamAnchorVersion}; libLibTorchSharp.so patched ({ElfWeakReference.IostreamAnchorSymbol} weak, condition_variable::wait bound to {ElfWeakReference.ConditionVariableWaitOldVersion})"
                                  : "no patch needed"));
            foreach (string copy in TorchNative.CandidateLibraries())
                Console.WriteLine($"  {copy}");
            Console.WriteLine(Nnpack.Disabled
                ? $"NNPACK: off; it cannot initialise on this CPU (nnp_initialize status {Nnpack.InitializeStatus}), so libtorch's probe and its warning are switched off"
                : $"NNPACK: available (nnp_initialize status {Nnpack.InitializeStatus?.ToString() ?? "not asked"})");

            var libraries = LoadAudit.Loaded();
            Console.WriteLine();
            Console.WriteLine($"native libraries loaded, with the newest system symbol versions each needs (weak needs, which never stop loading, in brackets):");
            foreach (var library in libraries)
            {
                string weak = string.Join(", ", library.Needs.Where(n => n.Weak).Select(n => n.Version));
                Console.WriteLine($"  {Path.GetFileName(library.Path)}: {string.Join(", ", library.Newest().Select(n => n.Version))}{(weak.Length > 0 ? $" [{weak}]" : "")}");
            }
            Console.WriteLine();
            Console.WriteLine("Linux releases (from their glibc, libstdc++ and libgcc_s symbol versions):");
            foreach (var verdict in LoadAudit.Check(libraries))
                Console.WriteLine(verdict.Loads
                    ? $"  {verdict.Target.Name}: loads"
                    : $"  {verdict.Target.Name}: does not load: {string.Join("; ", verdict.Unmet.Take(4).Select(u => $"{u.Library} needs {u.Need.Version} ({u.Need.File})"))}");
            return 0;
        }));
        return command;
    }
}
