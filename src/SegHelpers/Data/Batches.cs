using System.Collections.Concurrent;
using SegHelpers.Native;
using TorchSharp;
using static TorchSharp.torch;

namespace SegHelpers.Data;

/// <summary>How <see cref="Batches"/> loads and groups samples.</summary>
/// <param name="BatchSize">Samples per batch.</param>
/// <param name="CacheHeight">Height images are decoded and resized to once.</param>
/// <param name="CacheWidth">Width images are decoded and resized to once.</param>
/// <param name="Shuffle">Reorder samples every epoch (seeded by <paramref name="Seed"/> and the epoch).</param>
/// <param name="Seed">Makes the order and every random augmentation reproducible.</param>
/// <param name="Prefetch">Batches prepared ahead on a background thread.</param>
/// <param name="DropLast">Skip a final batch smaller than <paramref name="BatchSize"/>.</param>
/// <param name="CacheInMemory">Keep decoded images in memory; false decodes the PNGs every epoch.</param>
public sealed record BatchOptions(
    int BatchSize,
    int CacheHeight,
    int CacheWidth,
    bool Shuffle = true,
    int Seed = 0,
    int Prefetch = 2,
    bool DropLast = false,
    bool CacheInMemory = true);

/// <summary>
/// A batch: normalised images [B, 3, H, W] float32 and masks [B, H, W] int64 (classes of
/// <see cref="RoadLabel"/>, <see cref="RoadLabel.Ignore"/> for don't-care) on the requested device.
/// The consumer owns it and disposes it.
/// </summary>
public sealed class Batch(Tensor images, Tensor masks, IReadOnlyList<KittiSample> samples) : IDisposable
{
    /// <summary>Normalised images [B, 3, H, W].</summary>
    public Tensor Images { get; } = images;

    /// <summary>Class indices [B, H, W].</summary>
    public Tensor Masks { get; } = masks;

    /// <summary>Which samples, in batch order.</summary>
    public IReadOnlyList<KittiSample> Samples { get; } = samples;

    /// <inheritdoc />
    public void Dispose()
    {
        Images.Dispose();
        Masks.Dispose();
    }
}

/// <summary>
/// Labelled KITTI samples as batches: decoded and resized once into memory, shuffled per epoch,
/// augmented by a paired transform with a per-sample seed (so results do not depend on thread
/// timing), and prepared on a background thread while the consumer trains.
/// </summary>
public sealed class Batches : IDisposable
{
    readonly IReadOnlyList<KittiSample> _samples;
    readonly IPairedTransform _transform;
    readonly Device _device;
    readonly (Tensor Image, Tensor Mask)[]? _cache;

    /// <summary>Decodes and caches every sample (in parallel) unless <see cref="BatchOptions.CacheInMemory"/> is off.</summary>
    public Batches(IReadOnlyList<KittiSample> samples, IPairedTransform transform, BatchOptions options, Device? device = null)
    {
        if (samples.Count == 0)
            throw new ArgumentException("no samples to batch", nameof(samples));
        if (options.BatchSize < 1 || options.Prefetch < 1)
            throw new ArgumentOutOfRangeException(nameof(options), "batch size and prefetch must be at least 1");
        _samples = samples;
        _transform = transform;
        Options = options;
        _device = device ?? CPU;
        if (options.CacheInMemory)
        {
            _cache = new (Tensor, Tensor)[samples.Count];
            Parallel.For(0, samples.Count, i => _cache[i] = Decode(samples[i]));
        }
    }

    /// <summary>The options in force.</summary>
    public BatchOptions Options { get; }

    /// <summary>Samples per epoch.</summary>
    public int SampleCount => _samples.Count;

    /// <summary>Batches per epoch.</summary>
    public int Count => Options.DropLast ? _samples.Count / Options.BatchSize : (_samples.Count + Options.BatchSize - 1) / Options.BatchSize;

    /// <summary>The sample order of an epoch: shuffled by (seed, epoch), or as given.</summary>
    public int[] Order(int epoch)
    {
        var order = Enumerable.Range(0, _samples.Count).ToArray();
        if (Options.Shuffle)
            new Random(unchecked(Options.Seed * 7919 + epoch * 104729 + 17)).Shuffle(order);
        return order;
    }

    /// <summary>
    /// The batches of one epoch, prepared ahead on a background thread. Dispose each batch after use;
    /// leaving the loop early cancels the producer and frees what it had prepared.
    /// </summary>
    public IEnumerable<Batch> Epoch(int epoch)
    {
        var order = Order(epoch);
        using var queue = new BlockingCollection<Batch>(Options.Prefetch);
        using var cancel = new CancellationTokenSource();
        var producer = Task.Run(() =>
        {
            try
            {
                for (int b = 0; b < Count; b++)
                {
                    var indices = order.Skip(b * Options.BatchSize).Take(Options.BatchSize).ToArray();
                    var batch = Build(indices, epoch);
                    try
                    {
                        queue.Add(batch, cancel.Token);
                    }
                    catch (OperationCanceledException)
                    {
                        batch.Dispose();
                        return;
                    }
                }
            }
            finally
            {
                queue.CompleteAdding();
            }
        });
        try
        {
            foreach (var batch in queue.GetConsumingEnumerable())
                yield return batch;
            producer.GetAwaiter().GetResult();
        }
        finally
        {
            cancel.Cancel();
            try
            {
                producer.Wait();
            }
            catch (AggregateException) when (cancel.IsCancellationRequested)
            {
            }
            while (queue.TryTake(out var left))
                left.Dispose();
        }
    }

    int _built;

    /// <summary>Batches prepared so far over every epoch (how far a producer got).</summary>
    internal int BuiltCount => Volatile.Read(ref _built);

    Batch Build(int[] indices, int epoch)
    {
        Interlocked.Increment(ref _built);
        using var scope = NewDisposeScope();
        var images = new Tensor[indices.Length];
        var masks = new Tensor[indices.Length];
        for (int i = 0; i < indices.Length; i++)
        {
            int index = indices[i];
            var (image, mask) = _cache is null ? Decode(_samples[index]) : _cache[index];
            if (_cache is null)
            {
                scope.Attach(image);
                scope.Attach(mask);
            }
            var rng = new Random(unchecked(Options.Seed * 1_000_003 + epoch * 7_919 + index * 31 + 1));
            (images[i], masks[i]) = _transform.Apply(image.to(ScalarType.Float32).OverInPlace(255), mask, rng);
        }
        var x = stack(images).to(_device).DetachFromDisposeScope();
        var y = stack(masks).to(ScalarType.Int64).to(_device).DetachFromDisposeScope();
        return new Batch(x, y, indices.Select(i => _samples[i]).ToList());
    }

    (Tensor Image, Tensor Mask) Decode(KittiSample sample)
    {
        var (image, mask) = KittiRoad.LoadPair(sample);
        using var scope = NewDisposeScope();
        var imageTensor = Resize.ResizeImage(image.ToTensor(), Options.CacheHeight, Options.CacheWidth);
        var maskTensor = Resize.ResizeMask(torch.tensor(mask, [image.Height, image.Width], ScalarType.Byte), Options.CacheHeight, Options.CacheWidth);
        return (imageTensor.contiguous().DetachFromDisposeScope(), maskTensor.contiguous().DetachFromDisposeScope());
    }

    /// <summary>Frees the cached images.</summary>
    public void Dispose()
    {
        if (_cache is null)
            return;
        foreach (var (image, mask) in _cache)
        {
            image?.Dispose();
            mask?.Dispose();
        }
    }
}
