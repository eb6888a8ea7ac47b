using System.CommandLine;
using SegCli.Commands;

var root = new RootCommand("FCN road segmentation on KITTI Road with TorchSharp.")
{
    SynthCommand.Create(),
    CheckCommand.Create(),
    MainCommand.Create(),
    InfoCommand.Create(),
    ModelCommand.Create(),
    WeightsCommand.Create(),
    TrainCommand.Create(),
    EvalCommand.Create(),
    PredictCommand.Create(),
    NotebookCommand.Create(),
};
return root.Parse(args).Invoke();
