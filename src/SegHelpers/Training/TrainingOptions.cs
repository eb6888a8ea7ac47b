namespace SegHelpers.Training;

/// <summary>
/// Every hyperparameter of a training run. The defaults train the paper's FCN-8s with Adam at 160×576;
/// on the synthetic set use 96×320 for a quick CPU run (see the README).
/// </summary>
/// <param name="Epochs">Passes over the training split.</param>
/// <param name="BatchSize">Images per step.</param>
/// <param name="Height">Training crop height (validation images are resized to Height×Width).</param>
/// <param name="Width">Training crop width.</param>
/// <param name="LearningRate">Peak learning rate.</param>
/// <param name="Optimizer"><c>adam</c> (β = 0.9, 0.999) or <c>sgd</c> (with <paramref name="Momentum"/>, as in the paper).</param>
/// <param name="Momentum">SGD momentum (paper: 0.9).</param>
/// <param name="WeightDecay">L2 penalty on every parameter (paper: 5e-4).</param>
/// <param name="Schedule"><c>constant</c>, <c>poly</c> ((1 − t)^0.9 as in DeepLab and torchvision's reference) or <c>cosine</c>.</param>
/// <param name="WarmupEpochs">Linear warm-up from a tenth of the rate over this many epochs (fractions allowed), at most half the run
/// (<see cref="EffectiveWarmupEpochs"/>), so the default also suits a one-epoch run.</param>
/// <param name="Variant">fcn8s, fcn16s or fcn32s.</param>
/// <param name="WidthDivisor">Divides every channel count: 1 (VGG16), 2 or 4 (see <see cref="Model.FcnOptions"/>; narrower models are for inference tests only).</param>
/// <param name="Dropout">Dropout after fc6 and fc7.</param>
/// <param name="EncoderWeights">A torchvision VGG16 <c>.pth</c> or safetensors file for the encoder, or <c>imagenet</c> for torchvision's
/// ImageNet VGG16 (downloaded once into PyTorch's cache, see <see cref="Model.Weights.ImageNetVgg16"/>); null trains from scratch.</param>
/// <param name="FreezeEncoderEpochs">Train only the decoder for this many epochs first.</param>
/// <param name="ClassWeights">Loss weight per class (non-road, road); null weighs every pixel the same.</param>
/// <param name="ValidationFraction">Share of each category held out for validation (stratified, seeded).</param>
/// <param name="SplitFile">A file of validation ids, one per line, instead of <paramref name="ValidationFraction"/>.</param>
/// <param name="Augment">Random scale, crop, flip and colour jitter on training images.</param>
/// <param name="CheckpointEvery">Write <c>last.safetensors</c> every this many epochs (and always at the end).</param>
/// <param name="EarlyStoppingPatience">Stop after this many epochs without a better validation road IoU; 0 never stops early.</param>
/// <param name="Seed">Seeds the split, the order, augmentation, initialisation and dropout.</param>
/// <param name="Device"><c>auto</c> (CUDA when present), <c>cpu</c> or <c>cuda</c>.</param>
/// <param name="Precision"><c>fp32</c>; <c>bf16</c> (CPUs with AVX512-BF16 or AMX, CUDA compute capability 8.0+); <c>fp16</c> (CUDA, with
/// loss scaling); or <c>auto</c>, the fastest the device supports. Low precision runs the encoder only, with fp32 master weights
/// (<see cref="MixedPrecision"/>), and only after <see cref="TrainingPrecision"/>'s check of libtorch's kernels on this device.</param>
public sealed record TrainingOptions(
    int Epochs = 30,
    int BatchSize = 4,
    int Height = 160,
    int Width = 576,
    double LearningRate = 1e-4,
    string Optimizer = "adam",
    double Momentum = 0.9,
    double WeightDecay = 5e-4,
    string Schedule = "poly",
    double WarmupEpochs = 1,
    string Variant = "fcn8s",
    int WidthDivisor = 1,
    double Dropout = 0.5,
    string? EncoderWeights = null,
    int FreezeEncoderEpochs = 0,
    double[]? ClassWeights = null,
    double ValidationFraction = 0.2,
    string? SplitFile = null,
    bool Augment = true,
    int CheckpointEvery = 1,
    int EarlyStoppingPatience = 0,
    int Seed = 0,
    string Device = "auto",
    string Precision = "fp32")
{
    /// <summary>The optimizers by name.</summary>
    public static readonly IReadOnlyList<string> Optimizers = ["adam", "sgd"];

    /// <summary>The schedules by name.</summary>
    public static readonly IReadOnlyList<string> Schedules = ["constant", "poly", "cosine"];

    /// <summary>
    /// <see cref="ClassWeights"/> from text as <c>seg train --class-weights</c> and notebook 4 take it: <c>NONROAD,ROAD</c>
    /// (e.g. <c>1,2</c>); null or empty is null.
    /// </summary>
    public static double[]? ParseClassWeights(string? text)
    {
        if (string.IsNullOrWhiteSpace(text))
            return null;
        var parts = text.Split(',');
        var weights = new double[parts.Length];
        for (int i = 0; i < parts.Length; i++)
            if (!double.TryParse(parts[i], System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out weights[i]))
                throw new ArgumentException($"class weights '{text}' are not two numbers like 1,2 (non-road, road)");
        return weights;
    }

    /// <summary>The warm-up actually used: <see cref="WarmupEpochs"/>, capped at half of <see cref="Epochs"/>.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public double EffectiveWarmupEpochs => Math.Min(WarmupEpochs, Epochs / 2.0);

    /// <summary>Throws an <see cref="ArgumentException"/> naming the first option out of range.</summary>
    public void Validate()
    {
        Check(Epochs >= 1, "Epochs must be at least 1");
        Check(BatchSize >= 1, "BatchSize must be at least 1");
        Check(Height >= 32 && Width >= 32, "Height and Width must be at least 32");
        Check(LearningRate > 0 && double.IsFinite(LearningRate), "LearningRate must be positive");
        Check(Optimizers.Contains(Optimizer), $"Optimizer must be one of {string.Join(", ", Optimizers)}");
        Check(Schedules.Contains(Schedule), $"Schedule must be one of {string.Join(", ", Schedules)}");
        Check(Momentum is >= 0 and < 1, "Momentum must be in [0, 1)");
        Check(WeightDecay >= 0, "WeightDecay must not be negative");
        Check(WarmupEpochs >= 0 && double.IsFinite(WarmupEpochs), $"WarmupEpochs ({WarmupEpochs}) must not be negative");
        Check(Model.FcnOptions.Variants.Contains(Variant), $"Variant must be one of {string.Join(", ", Model.FcnOptions.Variants)}");
        Check(WidthDivisor is 1 or 2 or 4,
            $"WidthDivisor must be 1, 2 or 4 for training, not {WidthDivisor}: at 8 and above the first convolutions have 8 channels or fewer, and libtorch 2.10's CPU backward " +
            "for 3×3 convolutions with 8 or fewer output channels intermittently returns NaN or wrong input gradients (docs/performance.md)");
        Check(Dropout is >= 0 and < 1, "Dropout must be in [0, 1)");
        Check(FreezeEncoderEpochs >= 0, "FreezeEncoderEpochs must not be negative");
        Check(ClassWeights is null || (ClassWeights.Length == 2 && ClassWeights.All(w => w > 0)), "ClassWeights must be two positive numbers (non-road, road)");
        Check(ValidationFraction is > 0 and < 1 || SplitFile is not null, "ValidationFraction must be in (0, 1)");
        Check(CheckpointEvery >= 1, "CheckpointEvery must be at least 1");
        Check(EarlyStoppingPatience >= 0, "EarlyStoppingPatience must not be negative");
        Check(TrainingPrecision.Names.Contains(Precision), $"Precision must be one of {string.Join(", ", TrainingPrecision.Names)}, not '{Precision}'");
        Check(Device is "auto" or "cpu" or "cuda" || Device.StartsWith("cuda:", StringComparison.Ordinal), "Device must be auto, cpu, cuda or cuda:N");
    }

    static void Check(bool ok, string message)
    {
        if (!ok)
            throw new ArgumentException(message);
    }
}
