namespace SegHelpers.Benchmarks;

/// <summary>What <see cref="Bench"/> measures. Defaults are the grid: full-width FCN-8s at two sizes, batch 1 and 4.</summary>
/// <param name="Sizes">Input sizes (height, width).</param>
/// <param name="BatchSizes">Batch sizes.</param>
/// <param name="WidthDivisor">1 = VGG16's widths.</param>
/// <param name="Warmup">Untimed runs before measuring.</param>
/// <param name="Repeats">Timed runs; figures are their median.</param>
/// <param name="Train">Measure training steps (forward, loss, backward, Adam step).</param>
/// <param name="Bf16">Also measure bf16 inference (only where the CPU has AVX512-BF16 or AMX, or on CUDA).</param>
/// <param name="PipelineImages">KITTI-size synthetic images for the data-pipeline figures (0 skips them).</param>
/// <param name="DriftEpochs">Epochs of the small training run whose resident memory is tracked (0 skips it).</param>
/// <param name="Device">auto, cpu or cuda.</param>
public sealed record BenchOptions(
    IReadOnlyList<(int Height, int Width)> Sizes,
    IReadOnlyList<int> BatchSizes,
    int WidthDivisor = 1,
    int Warmup = 1,
    int Repeats = 5,
    bool Train = true,
    bool Bf16 = true,
    int PipelineImages = 16,
    int DriftEpochs = 10,
    string Device = "auto")
{
    /// <summary>The grid: 160×576 and 375×1242, batch 1 and 4, full width.</summary>
    public static BenchOptions Default => new([(160, 576), (375, 1242)], [1, 4]);

    /// <summary>A quick look (about a minute on 2 cores): quarter width at 96×320, batch 4.</summary>
    public static BenchOptions Quick => new([(96, 320)], [4], WidthDivisor: 4, Repeats: 3, PipelineImages: 8, DriftEpochs: 6);
}
