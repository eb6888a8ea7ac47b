using SegHelpers.Evaluation;
using SegHelpers.Model;
using SegHelpers.Model.Weights;
using SegHelpers.Native;
using SegHelpers.Training;

namespace SegHelpers.Tests.Cli;

/// <summary>Every option that takes a keyword names every keyword its parser accepts, in <c>seg … --help</c>.</summary>
public class HelpTests
{
    public static TheoryData<string, string, string[]> KeywordOptions => new()
    {
        { "train", "--variant", [.. FcnOptions.Variants] },
        { "train", "--optimizer", [.. TrainingOptions.Optimizers] },
        { "train", "--schedule", [.. TrainingOptions.Schedules] },
        { "train", "--device", [.. Devices.Names] },
        { "train", "--precision", [.. TrainingPrecision.Names] },
        { "train", "--encoder-weights", [ImageNetVgg16.Keyword] },
        { "eval", "--precision", [.. PredictionOptions.Precisions] },
        { "eval", "--split", [.. RoadEvaluation.Splits] },
        { "predict", "--precision", [.. PredictionOptions.Precisions] },
        { "bench", "--device", [.. Devices.Names] },
        { "model summary", "--variant", [.. FcnOptions.Variants] },
    };

    /// <summary>The help text of one option: its line and the indented lines that continue it.</summary>
    static string OptionHelp(string help, string option)
    {
        var lines = help.Split('\n');
        int start = Array.FindIndex(lines, l => l.TrimStart().StartsWith(option + " ", StringComparison.Ordinal));
        Assert.True(start >= 0, $"{option} is not in the help:\n{help}");
        var text = new List<string> { lines[start] };
        for (int i = start + 1; i < lines.Length && lines[i].StartsWith("   ", StringComparison.Ordinal) && !lines[i].TrimStart().StartsWith('-'); i++)
            text.Add(lines[i]);
        return string.Join(' ', text.Select(l => l.Trim()));
    }

    [Theory]
    [MemberData(nameof(KeywordOptions))]
    public void Each_option_lists_the_keywords_its_parser_accepts(string command, string option, string[] keywords)
    {
        var (exit, help, _) = Seg.Run([.. command.Split(' '), "--help"]);

        Assert.Equal(0, exit);
        string text = OptionHelp(help, option);
        Assert.All(keywords, k => Assert.Matches($@"(^|[\s,:(]){System.Text.RegularExpressions.Regex.Escape(k)}([\s,.:;)]|$)", text));
    }

    [Fact]
    public void The_encoder_weights_help_says_what_gives_the_papers_results()
    {
        string text = OptionHelp(Seg.Run("train", "--help").Out, "--encoder-weights");

        Assert.Contains("imagenet (torchvision's ImageNet VGG16", text);
        Assert.Contains("the paper's start", text);
    }
}
