using System.CommandLine;
using SegHelpers.Native;

namespace SegCli.Commands;

/// <summary><c>seg info</c>: which TorchSharp, libtorch and device this machine runs.</summary>
static class InfoCommand
{
    public static Command Create()
    {
        var command = new Command("info", "Show the TorchSharp runtime, backend and device, and whether the libstdc++ fix was needed.");
        command.SetAction(_ => Cli.Run(() =>
        {
            Console.WriteLine(TorchNative.Describe());
            Console.WriteLine($"libstdc++ {ElfWeakReference.LoadedLibStdCxx() ?? "(none)"}: " +
                              (ElfWeakReference.SystemNeedsPatch() ? $"lacks {ElfWeakReference.IostreamAnchorVersion}; libLibTorchSharp.so patched" : "no patch needed"));
            foreach (string copy in TorchNative.CandidateLibraries())
                Console.WriteLine($"  {copy}");
            Console.WriteLine(Nnpack.Disabled
                ? $"NNPACK: off; it cannot initialise on this CPU (nnp_initialize status {Nnpack.InitializeStatus}), so libtorch's probe and its warning are switched off"
                : $"NNPACK: available (nnp_initialize status {Nnpack.InitializeStatus?.ToString() ?? "not asked"})");
            return 0;
        }));
        return command;
    }
}
