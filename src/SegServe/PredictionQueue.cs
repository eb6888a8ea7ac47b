using System.Threading.Channels;
using SegHelpers.Data;
using SegHelpers.Evaluation;

namespace SegServe;

/// <summary>
/// Requests waiting for the model: at most <c>workers</c> model passes at once, each on its own thread, one image per
/// pass (so a map never depends on which other requests came at the same time), and at most <c>limit</c> more waiting;
/// beyond that a request is refused with 429 at once instead of queueing without bound.
/// </summary>
sealed class PredictionQueue : IAsyncDisposable
{
    readonly Channel<Job> _jobs = Channel.CreateUnbounded<Job>(new UnboundedChannelOptions { SingleWriter = false });
    readonly Func<RgbImage, bool, RoadProbability> _predict;
    readonly Thread[] _workers;
    readonly int _capacity;
    int _inSystem;

    sealed record Job(RgbImage Image, bool Flip, TaskCompletionSource<RoadProbability> Result, CancellationToken Cancel);

    public PredictionQueue(Func<RgbImage, bool, RoadProbability> predict, int workers, int limit)
    {
        _predict = predict;
        _capacity = workers + limit;
        _workers = [.. Enumerable.Range(0, workers).Select(i => new Thread(Work) { IsBackground = true, Name = $"seg-serve-model-{i}" })];
        foreach (var worker in _workers)
            worker.Start();
    }

    /// <summary>Requests waiting or running.</summary>
    public int InSystem => Volatile.Read(ref _inSystem);

    /// <summary>Queues one prediction; its task ends with the map, the model's exception, or cancellation.</summary>
    /// <exception cref="ServeException">429 when the queue is full.</exception>
    public Task<RoadProbability> Enqueue(RgbImage image, bool flip, CancellationToken cancel)
    {
        if (Interlocked.Increment(ref _inSystem) > _capacity)
        {
            Interlocked.Decrement(ref _inSystem);
            throw new ServeException(429, $"busy: {_capacity} requests are already waiting or running (--workers and --queue); retry later");
        }
        var job = new Job(image, flip, new TaskCompletionSource<RoadProbability>(TaskCreationOptions.RunContinuationsAsynchronously), cancel);
        if (!_jobs.Writer.TryWrite(job))
        {
            Interlocked.Decrement(ref _inSystem);
            throw new ServeException(503, "the server is shutting down");
        }
        return job.Result.Task;
    }

    void Work()
    {
        var reader = _jobs.Reader;
        while (reader.WaitToReadAsync().AsTask().GetAwaiter().GetResult())
        {
            while (reader.TryRead(out var job))
            {
                try
                {
                    if (job.Cancel.IsCancellationRequested)
                        job.Result.SetCanceled(job.Cancel);
                    else
                        job.Result.SetResult(_predict(job.Image, job.Flip));
                }
                catch (Exception e)
                {
                    job.Result.SetException(e);
                }
                finally
                {
                    Interlocked.Decrement(ref _inSystem);
                }
            }
        }
    }

    /// <summary>Lets the jobs already queued finish, then stops the workers.</summary>
    public ValueTask DisposeAsync()
    {
        _jobs.Writer.TryComplete();
        foreach (var worker in _workers)
            worker.Join();
        return ValueTask.CompletedTask;
    }
}
