using System.CommandLine;
using SegHelpers.Data;
using SegHelpers.Native;

namespace SegCli.Commands;

/// <summary><c>seg main</c>: the README's main job on the embedded synthetic default.</summary>
static class MainCommand
{
    public static Command Create()
    {
        var outDir = new Option<string>("--out") { Description = "Artifacts folder.", DefaultValueFactory = _ => "artifacts" };
        var count = new Option<int>("--count") { Description = "Synthetic labelled images.", DefaultValueFactory = _ => 40 };
        var command = new Command("main", "Run the whole job on the synthetic default: make the data, check it.") { outDir, count };
        command.SetAction(parse => Cli.Run(() =>
        {
            string artifacts = Path.GetFullPath(parse.GetValue(outDir)!);
            string data = Path.Combine(artifacts, "data");
            Console.WriteLine(TorchNative.Describe());
            var options = new SyntheticOptions(Count: parse.GetValue(count));
            SyntheticRoads.Write(data, options);
            Console.WriteLine($"synthetic KITTI data: {data}");
            var report = DatasetReport.Build(data);
            CheckCommand.Print(report);
            return report.Usable ? 0 : Cli.BadInput;
        }));
        return command;
    }
}
