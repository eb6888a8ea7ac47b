using SegCli.Commands;
using SegHelpers.Native;

// The model runs fastest on jemalloc, which has to be there from the start: run again with it where it is installed
// (where it is not, the commands that run the model say what to install).
string[] modelCommands = ["train", "eval", "predict", "main", "notebook", "bench", "sagemaker", "serve"];
if (FastAllocator.Reexecute(args, announce: args.Length > 0 && modelCommands.Contains(args[0])) is int exitCode)
    return exitCode;
return Cli.Root().Parse(args).Invoke();
