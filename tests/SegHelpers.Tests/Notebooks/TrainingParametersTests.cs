using System.Text.RegularExpressions;
using SegHelpers.Tests.Cli;
using SegNotebooks;

namespace SegHelpers.Tests.Notebooks;

/// <summary>Notebook 4's parameters cell offers every option <c>seg train</c> offers, read from <c>seg train --help</c>.</summary>
public partial class TrainingParametersTests
{
    // seg train's option → the parameters of notebook 4 that stand for it. An option added to seg train and not here fails.
    static readonly Dictionary<string, string[]> Parameters = new()
    {
        ["--data"] = ["DataDir"], ["--out"] = ["Run"], ["--resume"] = ["Resume"], ["--epochs"] = ["Epochs"], ["--batch-size"] = ["BatchSize"],
        ["--size"] = ["Height", "Width"], ["--lr"] = ["LearningRate"], ["--optimizer"] = ["Optimizer"], ["--momentum"] = ["Momentum"],
        ["--weight-decay"] = ["WeightDecay"], ["--schedule"] = ["Schedule"], ["--warmup-epochs"] = ["WarmupEpochs"], ["--variant"] = ["Variant"],
        ["--width-divisor"] = ["WidthDivisor"], ["--dropout"] = ["Dropout"], ["--encoder-weights"] = ["EncoderWeights"],
        ["--freeze-encoder-epochs"] = ["FreezeEncoderEpochs"], ["--class-weights"] = ["ClassWeights"], ["--val-fraction"] = ["ValidationFraction"],
        ["--split-file"] = ["SplitFile"], ["--no-augment"] = ["Augment"], ["--checkpoint-every"] = ["CheckpointEvery"],
        ["--early-stopping"] = ["EarlyStopping"], ["--seed"] = ["Seed"], ["--device"] = ["Device"], ["--precision"] = ["Precision"],
    };

    [GeneratedRegex(@"(?m)^\s+(?:-\S+, )*(--[a-z0-9-]+)")]
    private static partial Regex OptionLine();

    [Fact]
    public void Notebook_4_declares_a_parameter_for_every_seg_train_option()
    {
        var (exit, help, _) = Seg.Run("train", "--help");
        var options = OptionLine().Matches(help).Select(m => m.Groups[1].Value).Where(o => o != "--help").ToList();
        var declared = NotebookParameters.Declarations(NotebookFile.Load(Repository.Path("notebooks/04-training.ipynb")));

        Assert.Equal(0, exit);
        Assert.Contains("--class-weights", options);
        var unmapped = options.Where(o => !Parameters.ContainsKey(o)).ToList();
        Assert.True(unmapped.Count == 0, $"seg train has {string.Join(", ", unmapped)}, which this test maps to no parameter of notebook 4: add the parameter and the line above");
        var missing = options.SelectMany(o => Parameters[o].Where(p => !declared.ContainsKey(p)).Select(p => $"{p} (for {o})")).ToList();
        Assert.True(missing.Count == 0, $"notebook 4's parameters cell lacks {string.Join(", ", missing)}");
    }
}
