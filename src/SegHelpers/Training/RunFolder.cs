using System.Text.Json;
using SegHelpers.Data;

namespace SegHelpers.Training;

/// <summary>What a run folder records about its run: the data it trains on and its options.</summary>
/// <param name="Data">The KITTI-layout data folder (absolute).</param>
/// <param name="Options">The hyperparameters.</param>
public sealed record RunInfo(string Data, TrainingOptions Options)
{
    /// <summary>The run's training and validation images of <paramref name="data"/>: its split file, or the seeded stratified split.</summary>
    public (IReadOnlyList<KittiSample> Train, IReadOnlyList<KittiSample> Validation) Split(KittiRoad data) =>
        Options.SplitFile is { } list
            ? DatasetSplit.FromList(data.Training, list)
            : DatasetSplit.Stratified(data.Training, Options.ValidationFraction, Options.Seed);
}

/// <summary>
/// The files of one training run: <c>options.json</c> (<see cref="RunInfo"/>), <c>metrics.jsonl</c> (one
/// <see cref="EpochMetrics"/> per line), <c>last.safetensors</c> (model, optimizer, RNG and loop position, to
/// resume) and <c>best.safetensors</c> (the model with the best validation road IoU). Nothing else.
/// </summary>
public sealed class RunFolder(string path)
{
    static readonly JsonSerializerOptions Json = new() { WriteIndented = true };
    static readonly JsonSerializerOptions Line = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    /// <summary>The folder.</summary>
    public string Path { get; } = System.IO.Path.GetFullPath(path);

    /// <summary><c>options.json</c>.</summary>
    public string OptionsFile => System.IO.Path.Combine(Path, "options.json");

    /// <summary><c>metrics.jsonl</c>.</summary>
    public string MetricsFile => System.IO.Path.Combine(Path, "metrics.jsonl");

    /// <summary><c>last.safetensors</c>: everything needed to resume.</summary>
    public string LastCheckpoint => System.IO.Path.Combine(Path, "last.safetensors");

    /// <summary><c>best.safetensors</c>: the best model so far.</summary>
    public string BestCheckpoint => System.IO.Path.Combine(Path, "best.safetensors");

    /// <summary>The files a run writes, and nothing else: the only files <see cref="ClearForNewRun"/> removes.</summary>
    public IReadOnlyList<string> OwnFiles => [OptionsFile, MetricsFile, LastCheckpoint, BestCheckpoint];

    /// <summary>
    /// Removes an earlier run's files so a new run can start here. Refuses, deleting nothing, when the folder holds anything
    /// else (a user's files, a sub-folder): the caller must not lose what it does not own.
    /// </summary>
    /// <exception cref="BadInputException">The folder holds files that are not a run's.</exception>
    public void ClearForNewRun()
    {
        if (!Directory.Exists(Path))
            return;
        var foreign = Directory.EnumerateFileSystemEntries(Path).Where(e => !OwnFiles.Contains(e) && !OwnFiles.Contains(AtomicFile.TargetOfLeftover(e))).ToList();
        if (foreign.Count > 0)
            throw new BadInputException(Path, $"holds {foreign.Count} entries that are not a training run's ({string.Join(", ", foreign.Take(3).Select(System.IO.Path.GetFileName))}{(foreign.Count > 3 ? ", …" : "")})",
                "choose another run folder, or move those files away; nothing was deleted");
        foreach (string file in Directory.EnumerateFiles(Path))
            File.Delete(file);
    }

    /// <summary>True when the folder already holds a run.</summary>
    public bool HasRun => File.Exists(OptionsFile);

    /// <summary>Writes <c>options.json</c>.</summary>
    public void WriteInfo(RunInfo info) => AtomicFile.WriteText(OptionsFile, JsonSerializer.Serialize(info, Json));

    /// <summary>Reads <c>options.json</c>.</summary>
    public RunInfo ReadInfo()
    {
        if (!File.Exists(OptionsFile))
            throw new BadInputException(Path, "is not a training run (no options.json)", "pass the --out folder of an earlier `seg train`");
        try
        {
            return JsonSerializer.Deserialize<RunInfo>(File.ReadAllText(OptionsFile)) ?? throw new JsonException("empty");
        }
        catch (JsonException e)
        {
            throw new BadInputException(OptionsFile, $"is not valid run options ({e.Message})", "restore it from the run's last.safetensors metadata (seg weights inspect) or start a new run");
        }
    }

    /// <summary>
    /// Every epoch recorded so far. A last line torn by a crash mid-append (not a whole JSON object) is left out: the
    /// checkpoint being resumed predates that epoch, so it is trained again and <see cref="TruncateMetrics"/> drops the torn
    /// line. Any other unreadable line is an error naming the file and the line.
    /// </summary>
    public List<EpochMetrics> ReadMetrics()
    {
        if (!File.Exists(MetricsFile))
            return [];
        var lines = File.ReadAllLines(MetricsFile).Where(l => !string.IsNullOrWhiteSpace(l)).ToList();
        var metrics = new List<EpochMetrics>(lines.Count);
        for (int i = 0; i < lines.Count; i++)
        {
            try
            {
                metrics.Add(JsonSerializer.Deserialize<EpochMetrics>(lines[i], Line) ?? throw new JsonException("null"));
            }
            catch (JsonException) when (i == lines.Count - 1)
            {
                // torn by a crash while it was being appended
            }
            catch (JsonException e)
            {
                throw new BadInputException(MetricsFile, $"line {i + 1} is not an epoch record ({e.Message})", "remove that line, or start a new run");
            }
        }
        return metrics;
    }

    /// <summary>Appends one epoch as one line (metrics.jsonl is the one file written by appending rather than replacing).</summary>
    public void AppendMetrics(EpochMetrics metrics) =>
        File.AppendAllText(MetricsFile, JsonSerializer.Serialize(metrics, Line) + "\n");

    /// <summary>Keeps only the epochs up to <paramref name="epochs"/> (what the checkpoint being resumed had seen).</summary>
    public void TruncateMetrics(int epochs)
    {
        var kept = ReadMetrics().Where(m => m.Epoch <= epochs).Select(m => JsonSerializer.Serialize(m, Line) + "\n");
        AtomicFile.WriteText(MetricsFile, string.Concat(kept));
    }
}
