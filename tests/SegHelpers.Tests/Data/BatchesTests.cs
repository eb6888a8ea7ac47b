using SegHelpers.Data;
using TorchSharp;
using static TorchSharp.torch;

namespace SegHelpers.Tests.Data;

public class BatchesTests
{
    [Fact]
    public void An_epoch_covers_every_sample_once_in_batches_of_the_right_shape()
    {
        using var dir = new TempDir();
        var data = KittiRoad.Open(Kitti.Synthetic(dir, count: 7));
        using var batches = new Batches(data.Training, Presets.Eval(32, 96), new BatchOptions(3, 32, 96, Seed: 1));

        var seen = new List<string>();
        foreach (var batch in batches.Epoch(0))
            using (batch)
            {
                Assert.Equal(ScalarType.Float32, batch.Images.dtype);
                Assert.Equal(ScalarType.Int64, batch.Masks.dtype);
                Assert.Equal(new long[] { batch.Samples.Count, 3, 32, 96 }, batch.Images.shape);
                Assert.Equal(new long[] { batch.Samples.Count, 32, 96 }, batch.Masks.shape);
                seen.AddRange(batch.Samples.Select(s => s.Id));
            }

        Assert.Equal(3, batches.Count);
        Assert.Equal(data.Training.Select(s => s.Id).Order(), seen.Order());
    }

    [Fact]
    public void Order_and_augmentation_are_reproducible_and_change_per_epoch()
    {
        using var dir = new TempDir();
        var data = KittiRoad.Open(Kitti.Synthetic(dir, count: 9));
        var options = new BatchOptions(4, 40, 128, Seed: 5);
        var preset = Presets.Train(new PresetOptions(32, 96));
        using var a = new Batches(data.Training, preset, options);
        using var b = new Batches(data.Training, preset, options with { Prefetch = 1 });

        Tensor First(Batches batches, int epoch)
        {
            using var first = batches.Epoch(epoch).First();
            return first.Images.clone();
        }

        using var a0 = First(a, 0);
        using var b0 = First(b, 0);
        using var a1 = First(a, 1);
        Assert.True(a0.Same(b0));
        Assert.False(a0.Same(a1));
        Assert.Equal(a.Order(3), b.Order(3));
        Assert.NotEqual(a.Order(0), a.Order(1));
    }

    [Fact]
    public void Masks_keep_dont_care_as_ignore_and_match_uncached_decoding()
    {
        using var dir = new TempDir();
        var data = KittiRoad.Open(Kitti.Synthetic(dir, count: 6));
        var options = new BatchOptions(6, 40, 128, Shuffle: false);
        using var cached = new Batches(data.Training, Presets.Eval(40, 128), options);
        using var direct = new Batches(data.Training, Presets.Eval(40, 128), options with { CacheInMemory = false });

        using var x = cached.Epoch(0).Single();
        using var y = direct.Epoch(0).Single();

        Assert.True(x.Images.Same(y.Images));
        Assert.True(x.Masks.Same(y.Masks));
        var classes = x.Masks.unique().Item1.data<long>().ToArray();
        Assert.Subset(new HashSet<long> { 0, 1, 255 }, classes.ToHashSet());
        Assert.Contains(1L, classes);
    }

    [Fact]
    public void Leaving_an_epoch_early_stops_the_producer()
    {
        using var dir = new TempDir();
        var data = KittiRoad.Open(Kitti.Synthetic(dir, count: 8));
        using var batches = new Batches(data.Training, Presets.Eval(32, 96), new BatchOptions(1, 32, 96, Prefetch: 2));

        foreach (var batch in batches.Epoch(0))
        {
            batch.Dispose();
            break;
        }
        int builtAfterLeaving = batches.BuiltCount;
        Thread.Sleep(500); // a producer still running would go on through all 8 batches meanwhile
        int builtLater = batches.BuiltCount;
        using var again = batches.Epoch(1).First();

        Assert.Equal(builtAfterLeaving, builtLater);
        Assert.InRange(builtLater, 1, 1 + 2 + 1); // the batch taken, the prefetched ones and at most one being built
        Assert.Single(again.Samples);
    }
}
