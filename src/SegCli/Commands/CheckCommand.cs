using System.CommandLine;
using System.Text.Json;
using SegHelpers;
using SegHelpers.Data;

namespace SegCli.Commands;

/// <summary><c>seg check</c>: validates a dataset and prints what it holds.</summary>
static class CheckCommand
{
    static readonly JsonSerializerOptions Json = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.CamelCase };

    public static Command Create()
    {
        var data = new Option<string>("--data") { Description = "KITTI data_road folder (holds training/ and testing/).", Required = true };
        var json = new Option<bool>("--json") { Description = "Print the report as JSON." };
        var command = new Command("check", "Validate a KITTI Road dataset: pairs, sizes, label colours, class balance.") { data, json };
        command.SetAction(parse => Cli.Run(() =>
        {
            string root = parse.GetValue(data)!;
            var layout = KittiRoad.Open(root);
            var report = CountProgress.Run("checking", layout.Training.Count + layout.Testing.Count, progress => DatasetReport.Build(root, progress));
            if (parse.GetValue(json))
                Console.WriteLine(JsonSerializer.Serialize(new { report.Usable, report.Root, report.TrainingPairs, report.TestImages, report.Categories, report.All, report.ImageSizes, report.Calibration, report.Problems }, Json));
            else
                Print(report);
            return report.Usable ? 0 : Cli.BadInput;
        }));
        return command;
    }

    /// <summary>The calibration line: files per split and what their absence costs.</summary>
    public static string Calibration(DatasetReport report)
    {
        var c = report.Calibration;
        string counts = $"{c.Training}/{report.TrainingPairs} training, {c.Testing}/{report.TestImages} testing";
        return c.Missing.Count == 0
            ? $"{counts}: the bird's-eye view (seg eval --bev, the submission) works for every image"
            : $"{counts}: {c.Missing.Count} image(s) have none ({string.Join(", ", c.Missing.Take(3))}{(c.Missing.Count > 3 ? ", …" : "")}); seg eval --bev and seg predict --bev need one per image";
    }

    /// <summary>The human-readable report.</summary>
    public static void Print(DatasetReport report)
    {
        Console.WriteLine($"dataset   {report.Root}");
        Console.WriteLine($"training  {report.TrainingPairs} labelled pairs");
        Console.WriteLine($"testing   {report.TestImages} images");
        Console.WriteLine($"sizes     {string.Join(", ", report.ImageSizes.Select(kv => $"{kv.Key} ({kv.Value})"))}");
        Console.WriteLine($"calib     {Calibration(report)}");
        Console.WriteLine();
        Console.Write(Table.Dataset(report).ToText());
        if (report.Problems.Count > 0)
        {
            Console.WriteLine();
            Console.WriteLine($"{report.Problems.Count} problem(s):");
            foreach (string p in report.Problems)
                Console.WriteLine($"  {p}");
        }
        Console.WriteLine();
        Console.WriteLine(report.Usable ? "usable: yes" : "usable: no");
    }
}
