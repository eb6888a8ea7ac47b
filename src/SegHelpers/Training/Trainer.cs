using System.Diagnostics;
using System.Text.Json;
using SegHelpers.Data;
using SegHelpers.Evaluation;
using SegHelpers.Model;
using SegHelpers.Model.Weights;
using TorchSharp;
using static TorchSharp.torch;

namespace SegHelpers.Training;

/// <summary>
/// Trains an FCN on a KITTI-layout folder: one <see cref="TrainOneEpoch"/> and one <see cref="Evaluate"/> per
/// epoch, metrics appended to <c>metrics.jsonl</c>, the best model and an atomic resumable checkpoint written
/// to the run folder. Stops cleanly on cancellation (saving where it was) and on a NaN/Inf loss (keeping the
/// last good checkpoint). Every step runs inside a dispose scope.
/// </summary>
public sealed class Trainer : IDisposable
{
    const string StateKey = "seg.training";
    const string RunKey = "seg.run";
    const int MaxConsecutiveSkips = 5;

    readonly RunFolder _run;
    readonly RunInfo _info;
    readonly TrainingOptions _o;
    readonly IProgress<TrainingEvent>? _progress;
    readonly Device _device;
    readonly Fcn _model;
    MixedPrecision? _mixed;
    bool _mixedGuarded;
    double _gradientTolerance = MixedPrecision.GradientTolerance;
    readonly optim.Optimizer _optimizer;
    readonly RoadLoss _loss;
    readonly Batches _train;
    readonly Batches _validation;
    readonly LearningRateSchedule _schedule;
    readonly TrainingState _state = new();
    readonly List<EpochMetrics> _history;
    readonly Stopwatch _session = Stopwatch.StartNew();
    long _sessionSteps;

    Trainer(RunFolder run, RunInfo info, IProgress<TrainingEvent>? progress, bool resume)
    {
        _run = run;
        _info = info;
        _o = info.Options;
        _progress = progress;
        _o.Validate();
        Fcn.CheckFits(_o.BatchSize, _o.Height, _o.Width, _o.WidthDivisor);
        _device = Native.Devices.Resolve(_o.Device);
        var data = KittiRoad.Open(info.Data);
        var (trainSamples, valSamples) = info.Split(data);
        if (trainSamples.Count == 0 || valSamples.Count == 0)
            throw new BadInputException(info.Data, $"splits into {trainSamples.Count} training and {valSamples.Count} validation images",
                "training needs at least one of each: add images or change --val-fraction / --split-file");
        var preset = new PresetOptions(_o.Height, _o.Width);
        var (cacheH, cacheW) = _o.Augment ? preset.CacheSize : (_o.Height, _o.Width);
        _train = new Batches(trainSamples, _o.Augment ? Presets.Train(preset) : Presets.Eval(_o.Height, _o.Width),
            new BatchOptions(_o.BatchSize, cacheH, cacheW, Shuffle: true, Seed: _o.Seed, DropLast: trainSamples.Count > _o.BatchSize), _device);
        _validation = new Batches(valSamples, Presets.Eval(_o.Height, _o.Width),
            new BatchOptions(_o.BatchSize, _o.Height, _o.Width, Shuffle: false, Seed: _o.Seed), _device);

        _model = new Fcn(new FcnOptions(_o.Variant, 2, _o.WidthDivisor, _o.Dropout), _o.Seed);
        _model.to(_device);
        if (!resume && ImageNetVgg16.Resolve(_o.EncoderWeights, new Downloads.DownloadLog("ImageNet VGG16", line => Report(new MessageEvent(line)), TimeSpan.FromSeconds(10))) is { } weights)
            Report(new MessageEvent($"{WeightLoader.Load(_model, weights)} (from {weights}{(weights == _o.EncoderWeights ? "" : $", the {ImageNetVgg16.Keyword} weights")})"));
        _optimizer = _o.Optimizer == "sgd"
            ? new InPlace.SGD(_model.parameters(), _o.LearningRate, _o.Momentum, weightDecay: _o.WeightDecay)
            : new InPlace.Adam(_model.parameters(), _o.LearningRate, beta1: 0.9, beta2: 0.999, weightDecay: _o.WeightDecay);
        _loss = new RoadLoss(_o.ClassWeights, _device);
        _schedule = new LearningRateSchedule(_o, _train.Count);
        _history = resume ? RestoreLast() : [];
        var precision = TrainingPrecision.Choose(_o.Precision, _device, _model.Encoder, (_o.Height, _o.Width));
        if (precision.Warning is { } warning)
            Report(new MessageEvent(warning));
        if (precision.DType != ScalarType.Float32)
        {
            _mixed = new MixedPrecision(_model, precision.DType, _device);
            if (_mixed.Scaler is not null && _state.LossScale > 0)
                _mixed.Scaler = new LossScaler(_state.LossScale, _state.LossScaleCleanSteps);
        }
        if (_state.Epoch > _o.Epochs)
            throw new ArgumentException($"--epochs {_o.Epochs} is fewer than the {_state.Epoch} epochs {_run.Path} has already trained");
        Report(new MessageEvent($"{_o.Variant} ({_model.ParameterCount():N0} parameters) on {_device.type}, {precision.Note}; {trainSamples.Count} training / {valSamples.Count} validation images at {_o.Height}×{_o.Width}; run folder {_run.Path}"));
    }

    /// <summary>Starts a new run in <paramref name="runFolder"/> (which must not already hold one) on the KITTI-layout folder <paramref name="data"/>.</summary>
    /// <exception cref="BadInputException">The data or the run folder is unusable.</exception>
    public static TrainingResult Train(string data, string runFolder, TrainingOptions options, IProgress<TrainingEvent>? progress = null, CancellationToken cancel = default) =>
        Train(data, runFolder, options, progress, cancel, MixedPrecision.GradientTolerance);

    /// <summary><see cref="Train(string, string, TrainingOptions, IProgress{TrainingEvent}?, CancellationToken)"/> with the first-batch guard's tolerance set (tests).</summary>
    internal static TrainingResult Train(string data, string runFolder, TrainingOptions options, IProgress<TrainingEvent>? progress, CancellationToken cancel, double gradientTolerance)
    {
        options.Validate();
        var run = new RunFolder(runFolder);
        if (run.HasRun || File.Exists(run.LastCheckpoint))
            throw new BadInputException(run.Path, "already holds a training run", "continue it with --resume, or choose a new --out folder");
        var info = new RunInfo(Path.GetFullPath(data), options);
        using var trainer = new Trainer(run, info, progress, resume: false) { _gradientTolerance = gradientTolerance };
        run.WriteInfo(info);
        return trainer.Run(cancel);
    }

    /// <summary>
    /// Continues the run in <paramref name="runFolder"/> from its <c>last.safetensors</c>, exactly where it stopped, with
    /// <paramref name="changes"/> (more epochs, another device, …) applied and recorded in its <c>options.json</c>.
    /// </summary>
    public static TrainingResult Resume(string runFolder, IProgress<TrainingEvent>? progress = null, CancellationToken cancel = default, ResumeChanges? changes = null)
    {
        var run = new RunFolder(runFolder);
        var info = run.ReadInfo();
        if (!File.Exists(run.LastCheckpoint))
            throw new BadInputException(run.Path, "has no last.safetensors to resume from", "start it again with `seg train` (the run stopped before its first checkpoint)");
        if (changes is not null)
            info = info with { Options = changes.ApplyTo(info.Options) };
        using var trainer = new Trainer(run, info, progress, resume: true);
        if (changes is not null)
            run.WriteInfo(info);
        return trainer.Run(cancel);
    }

    TrainingResult Run(CancellationToken cancel)
    {
        var status = TrainingStatus.Completed;
        for (int epoch = _state.Epoch; epoch < _o.Epochs; epoch++)
        {
            string? failure = TrainOneEpoch(epoch, cancel);
            if (failure is not null)
                return Finish(TrainingStatus.Diverged, failure);
            if (_state.BatchInEpoch < _train.Count)
            {
                SaveLast();
                return Finish(TrainingStatus.Interrupted, $"interrupted at epoch {epoch + 1}, step {_state.BatchInEpoch}; continue with --resume {_run.Path}");
            }
            var validationClock = Stopwatch.StartNew();
            _mixed?.ReleaseWorking();
            var (valLoss, matrix, benchmark) = Evaluate(_model, _validation, _loss);
            GC.Collect();
            Native.NativeMemory.Trim();
            double iou = matrix.IoU(RoadLabel.Road);
            bool best = iou > _state.BestRoadIoU;
            var metrics = new EpochMetrics(epoch + 1, _state.EpochLossSum / Math.Max(_state.EpochSteps, 1), valLoss, iou, matrix.MeanIoU(),
                matrix.PixelAccuracy(), matrix.F1(RoadLabel.Road), benchmark.ScoreAll()[^1].MaxF, _schedule.At(Math.Max(_state.GlobalStep - 1, 0)),
                _state.EpochTrainSeconds + validationClock.Elapsed.TotalSeconds,
                _state.EpochImages / Math.Max(_state.EpochTrainSeconds, 1e-9), Environment.WorkingSet / 1e6, _state.SkippedSteps, best);
            if (best)
            {
                _state.BestRoadIoU = iou;
                _state.BestEpoch = epoch + 1;
                _state.EpochsSinceBest = 0;
                FcnCheckpoint.Save(_model, _run.BestCheckpoint, new Dictionary<string, string> { ["seg.epoch"] = $"{epoch + 1}", ["seg.road_iou"] = $"{iou:R}" });
            }
            else
            {
                _state.EpochsSinceBest++;
            }
            _run.AppendMetrics(metrics);
            _history.Add(metrics);
            _state.Epoch = epoch + 1;
            _state.StartEpoch();
            bool stopEarly = _o.EarlyStoppingPatience > 0 && _state.EpochsSinceBest >= _o.EarlyStoppingPatience;
            bool final = epoch + 1 == _o.Epochs || stopEarly || cancel.IsCancellationRequested;
            if (final || (epoch + 1) % _o.CheckpointEvery == 0)
                SaveLast();
            Report(new EpochEvent(metrics, Eta()));
            if (stopEarly)
            {
                status = TrainingStatus.StoppedEarly;
                break;
            }
            if (cancel.IsCancellationRequested && epoch + 1 < _o.Epochs)
                return Finish(TrainingStatus.Interrupted, $"interrupted after epoch {epoch + 1}; continue with --resume {_run.Path}");
        }
        return Finish(status, status == TrainingStatus.StoppedEarly
            ? $"stopped early after epoch {_state.Epoch}: no better road IoU for {_o.EarlyStoppingPatience} epochs"
            : $"trained {_state.Epoch} epochs");
    }

    /// <summary>Trains the rest of epoch <paramref name="epoch"/>; returns a message if the loss stopped being finite.</summary>
    string? TrainOneEpoch(int epoch, CancellationToken cancel)
    {
        _model.train();
        _mixed?.Train(true);
        SetEncoderTrainable(epoch >= _o.FreezeEncoderEpochs);
        if (_state.BatchInEpoch == 0)
            _model.Encoder.Noise.Reseed(unchecked(_o.Seed * 1_000_003L + epoch + 1));
        int index = 0;
        var clock = Stopwatch.StartNew();
        double secondsBefore = _state.EpochTrainSeconds;
        foreach (var batch in _train.Epoch(epoch))
        {
            using (batch)
            {
                if (index++ < _state.BatchInEpoch)
                    continue;
                using var scope = NewDisposeScope();
                if (!HasLabelledPixels(batch.Masks))
                {
                    _state.BatchInEpoch++; // only don't-care pixels: nothing to learn from
                    continue;
                }
                if (_mixed is not null && !_mixedGuarded && epoch >= _o.FreezeEncoderEpochs)
                    GuardMixedPrecision(batch);
                double lr = _schedule.At(_state.GlobalStep);
                foreach (var group in _optimizer.ParamGroups)
                    group.LearningRate = lr;
                _optimizer.zero_grad();
                double value;
                try
                {
                    var logits = _mixed is null ? _model.call(batch.Images) : _mixed.Forward(batch.Images);
                    var loss = _loss.Compute(logits, batch.Masks);
                    value = loss.item<float>();
                    if (!double.IsFinite(value))
                        return Diverged(epoch, lr, value);
                    (_mixed?.ScaleForBackward(loss) ?? loss).backward();
                    bool stepped = _mixed?.Step(_optimizer) ?? StepIfFinite();
                    if (_mixed?.Scaler is { } scaler)
                        (_state.LossScale, _state.LossScaleCleanSteps) = (scaler.Scale, scaler.CleanSteps);
                    if (stepped)
                    {
                        _state.ConsecutiveSkips = 0;
                    }
                    else if (_mixed?.Scaler is { Exhausted: false })
                    {
                        // fp16 overflow: the scaler has halved the scale and the update is skipped, as GradScaler does.
                        _state.SkippedSteps++;
                    }
                    else
                    {
                        // A finite loss with NaN gradients (seen with libtorch 2.10 on CPU at tiny widths).
                        // Like AMP's GradScaler, skip the update rather than poison the weights.
                        _state.SkippedSteps++;
                        if (_mixed?.Scaler is { Exhausted: true })
                            return $"fp16 gradients stayed NaN or infinite down to a loss scale of {_mixed.Scaler.Scale:g3} (epoch {epoch + 1}, step {_state.BatchInEpoch + 1}, learning rate {lr:g3}); training stopped. Lower --lr, or train in bf16 or fp32";
                        if (++_state.ConsecutiveSkips >= MaxConsecutiveSkips)
                            return $"gradients were NaN or infinite for {MaxConsecutiveSkips} steps in a row (epoch {epoch + 1}, step {_state.BatchInEpoch + 1}, learning rate {lr:g3}); training stopped. Lower --lr or add --warmup-epochs";
                        Report(new MessageEvent($"epoch {epoch + 1} step {_state.BatchInEpoch + 1}: non-finite gradients, update skipped"));
                    }
                }
                catch (Exception e) when (IsOutOfMemory(e))
                {
                    throw TrainingFailedException.OutOfMemory(_device.type.ToString(), _o.BatchSize, _o.Height, _o.Width, e);
                }
                _state.BatchInEpoch++;
                _state.GlobalStep++;
                _state.EpochSteps++;
                _state.EpochImages += (int)batch.Images.shape[0];
                _state.EpochLossSum += value;
                _state.EpochTrainSeconds = secondsBefore + clock.Elapsed.TotalSeconds;
                _sessionSteps++;
                Report(new StepEvent(epoch, _state.BatchInEpoch - 1, _train.Count, _state.GlobalStep, (long)_o.Epochs * _train.Count, value, lr,
                    _state.EpochImages / Math.Max(_state.EpochTrainSeconds, 1e-9), Eta()));
            }
            if (cancel.IsCancellationRequested && _state.BatchInEpoch < _train.Count)
                break;
        }
        return null;
    }

    /// <summary>
    /// Mean loss, confusion matrix (argmax decision, don't-care excluded) and KITTI benchmark counts (8-bit road
    /// probabilities at the batches' size) of <paramref name="model"/> over <paramref name="batches"/>.
    /// </summary>
    public static (double Loss, ConfusionMatrix Matrix, RoadBenchmark Benchmark) Evaluate(Fcn model, Batches batches, RoadLoss loss)
    {
        model.eval();
        var matrix = new ConfusionMatrix(model.Options.NumClasses);
        var benchmark = new RoadBenchmark();
        double sum = 0;
        int count = 0;
        using var _ = no_grad();
        foreach (var batch in batches.Epoch(0))
        {
            using (batch)
            {
                using var scope = NewDisposeScope();
                var logits = model.call(batch.Images);
                double value = loss.Compute(logits, batch.Masks).item<float>();
                if (double.IsFinite(value))
                {
                    sum += value;
                    count++;
                }
                matrix.Update(logits.argmax(1), batch.Masks);
                var road = RoadPredictor.RoadBytes(logits).cpu();
                var masks = batch.Masks.to(ScalarType.Byte).cpu();
                for (int i = 0; i < batch.Samples.Count; i++)
                    benchmark.Add(batch.Samples[i].Category, road[i].data<byte>().ToArray(), masks[i].data<byte>().ToArray());
            }
        }
        return (count == 0 ? double.NaN : sum / count, matrix, benchmark);
    }

    /// <summary>
    /// TorchSharp 0.107 raises every libtorch error, CUDA's out-of-memory included, as an <see cref="System.Runtime.InteropServices.ExternalException"/>
    /// carrying libtorch's text ("CUDA out of memory. Tried to allocate …", "DefaultCPUAllocator: not enough memory"): it has no
    /// type of its own for it, so the text is checked, on that exception type only. .NET's own <see cref="OutOfMemoryException"/> counts too.
    /// </summary>
    internal static bool IsOutOfMemory(Exception e) =>
        e is OutOfMemoryException ||
        (e is System.Runtime.InteropServices.ExternalException &&
         (e.Message.Contains("out of memory", StringComparison.OrdinalIgnoreCase) || e.Message.Contains("not enough memory", StringComparison.OrdinalIgnoreCase)));

    static bool HasLabelledPixels(Tensor masks)
    {
        using var ignore = RoadLabel.Ignore.ToScalar();
        using var labelled = masks.ne(ignore);
        using var any = labelled.any();
        return any.item<bool>();
    }

    string Diverged(int epoch, double lr, double value)
    {
        string kept = File.Exists(_run.LastCheckpoint)
            ? $"{_run.LastCheckpoint} (after epoch {ReadSavedEpoch()}) is kept"
            : "no checkpoint had been written yet";
        return $"loss became {value} at epoch {epoch + 1}, step {_state.BatchInEpoch + 1} (learning rate {lr:g3}); training stopped and {kept}. Lower --lr, add --warmup-epochs, or check the data with `seg check`";
    }

    int ReadSavedEpoch()
    {
        var saved = StateDict.Read(_run.LastCheckpoint);
        return JsonSerializer.Deserialize<TrainingState>(saved.Metadata[StateKey])!.Epoch;
    }

    void GuardMixedPrecision(Batch batch)
    {
        _mixedGuarded = true;
        var bad = _mixed!.GradientErrors(batch.Images, batch.Masks, _loss).Where(e => !(e.Error <= _gradientTolerance)).ToList();
        if (bad.Count == 0)
            return;
        Report(new MessageEvent($"warning: {LowPrecisionCheck.Name(_mixed.DType)} gradients on the first batch disagree with fp32 for " +
                                $"{string.Join(", ", bad.Select(b => $"{b.Name} (relative error {b.Error:G2})"))}: libtorch's kernels are wrong for these shapes on this device; training in fp32 instead"));
        _mixed.Dispose();
        _mixed = null;
    }

    bool StepIfFinite()
    {
        if (!MixedPrecision.GradientsFinite(_model.parameters()))
            return false;
        _optimizer.step();
        return true;
    }

    void SetEncoderTrainable(bool trainable)
    {
        foreach (var p in _model.Encoder.parameters())
            p.requires_grad = trainable;
        _mixed?.SetTrainable(trainable);
    }

    void SaveLast()
    {
        using var scope = NewDisposeScope();
        using var buffer = new MemoryStream();
        using (var writer = new BinaryWriter(buffer, System.Text.Encoding.UTF8, leaveOpen: true))
            ((TorchSharp.Modules.OptimizerHelper)_optimizer).save_state_dict(writer);
        var metadata = new Dictionary<string, string>
        {
            [StateKey] = JsonSerializer.Serialize(_state),
            [RunKey] = JsonSerializer.Serialize(_info),
        };
        FcnCheckpoint.Save(_model, _run.LastCheckpoint, metadata,
            [("train.optimizer", tensor(buffer.ToArray())), ("train.rng", _model.Encoder.Noise.GetState(_device))]);
    }

    List<EpochMetrics> RestoreLast()
    {
        var file = StateDict.Read(_run.LastCheckpoint);
        if (!file.Metadata.TryGetValue(StateKey, out var stateJson) || file.Find("train.optimizer") is not { } optimizerState || file.Find("train.rng") is not { } rng)
            throw new BadInputException(_run.LastCheckpoint, "holds no training state", "it is a model file, not a resumable checkpoint; start a new run with --encoder-weights or load it for evaluation");
        WeightLoader.Load(_model, file.Where(t => !t.Name.StartsWith(FcnCheckpoint.ExtraPrefix, StringComparison.Ordinal)), requireAll: true);
        using (var reader = new BinaryReader(new MemoryStream(optimizerState.ContiguousBytes())))
            ((TorchSharp.Modules.OptimizerHelper)_optimizer).load_state_dict(reader);
        var saved = JsonSerializer.Deserialize<TrainingState>(stateJson)!;
        foreach (var property in typeof(TrainingState).GetProperties())
            property.SetValue(_state, property.GetValue(saved));
        using (var state = rng.ToTensor())
        {
            try
            {
                _model.Encoder.Noise.SetState(_device, state);
            }
            catch (Exception e) when (e is System.Runtime.InteropServices.ExternalException or ArgumentException)
            {
                // A state saved by another device's generator (the run moved between CPU and CUDA) does not fit this one.
                _model.Encoder.Noise.Reseed(unchecked(_o.Seed * 1_000_003L + _state.Epoch + 1 + 7_919L * _state.BatchInEpoch));
                Report(new MessageEvent($"the dropout stream was saved on another device; it restarts from the seed on {_device.type} (the run continues, not bit for bit)"));
            }
        }
        _run.TruncateMetrics(_state.Epoch);
        Report(new MessageEvent($"resumed {_run.Path} at epoch {_state.Epoch + 1}, step {_state.BatchInEpoch + 1}"));
        return _run.ReadMetrics();
    }

    TimeSpan Eta()
    {
        if (_sessionSteps == 0)
            return TimeSpan.Zero;
        long remaining = (long)_o.Epochs * _train.Count - _state.GlobalStep;
        return TimeSpan.FromSeconds(_session.Elapsed.TotalSeconds / _sessionSteps * remaining);
    }

    TrainingResult Finish(TrainingStatus status, string message) =>
        new(_run, status, _state.Epoch, _state.BestEpoch, Math.Max(_state.BestRoadIoU, 0), _history.ToList(), message);

    void Report(TrainingEvent e) => _progress?.Report(e);

    /// <inheritdoc />
    public void Dispose()
    {
        _train.Dispose();
        _validation.Dispose();
        _loss.Dispose();
        _optimizer.Dispose();
        _mixed?.Dispose();
        _model.Dispose();
    }
}
