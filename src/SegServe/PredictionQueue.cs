using System.Threading.Channels;

namespace SegServe;

/// <summary>
/// Admission and the model's threads. A request takes a place (<see cref="Admit"/>) before its body is read, and keeps it
/// until its work (decoding, the model pass, encoding) is done or given up before it started: at most <c>workers</c> requests
/// are worked on at once, each on a thread of its own (so the thread pool that answers <c>/ping</c> never decodes or
/// predicts), and at most <c>limit</c> more wait. Past that a request is refused with 429 before any of its body is read.
/// Triton refuses the same way when its queue is full (max_queue_size); TorchServe answers 503.
/// </summary>
sealed class PredictionQueue : IAsyncDisposable
{
    readonly Channel<Job> _jobs = Channel.CreateUnbounded<Job>(new UnboundedChannelOptions { SingleWriter = false });
    readonly Thread[] _workers;
    readonly int _capacity;
    int _inSystem;
    long _idleSince = Environment.TickCount64;

    public PredictionQueue(int workers, int limit)
    {
        _capacity = workers + limit;
        _workers = [.. Enumerable.Range(0, workers).Select(i => new Thread(Work) { IsBackground = true, Name = $"seg-serve-model-{i}" })];
        foreach (var worker in _workers)
            worker.Start();
    }

    /// <summary>Requests admitted: waiting or worked on.</summary>
    public int InSystem => Volatile.Read(ref _inSystem);

    /// <summary>Requests being worked on.</summary>
    public int Running => Volatile.Read(ref _running);

    int _running;

    /// <summary>How long nothing has been admitted, or zero while something is.</summary>
    public TimeSpan Idle => InSystem > 0 ? TimeSpan.Zero : TimeSpan.FromMilliseconds(Environment.TickCount64 - Volatile.Read(ref _idleSince));

    /// <summary>A place for one request, released by <see cref="Slot.Dispose"/> unless <see cref="Run"/> took it over.</summary>
    /// <exception cref="ServeException">429 when every place is taken.</exception>
    public Slot Admit()
    {
        if (Interlocked.Increment(ref _inSystem) > _capacity)
        {
            Release();
            throw new ServeException(429, $"busy: {_capacity} requests are already waiting or running (--workers and --queue); retry later");
        }
        return new Slot(this);
    }

    void Release()
    {
        if (Interlocked.Decrement(ref _inSystem) == 0)
            Volatile.Write(ref _idleSince, Environment.TickCount64);
    }

    /// <summary>Queues <paramref name="work"/> for a model thread; the job then owns <paramref name="slot"/>.</summary>
    /// <exception cref="ServeException">503 when the queue no longer takes work (shutting down).</exception>
    public Job<T> Run<T>(Slot slot, Func<T> work)
    {
        var job = new Job<T>(slot, work);
        slot.HandOver();
        if (!_jobs.Writer.TryWrite(job))
        {
            job.Abandon();
            throw new ServeException(503, "the server is shutting down; retry on another instance");
        }
        return job;
    }

    void Work()
    {
        var reader = _jobs.Reader;
        while (reader.WaitToReadAsync().AsTask().GetAwaiter().GetResult())
        {
            while (reader.TryRead(out var job))
            {
                if (!job.Start())
                    continue;
                Interlocked.Increment(ref _running);
                try
                {
                    job.Execute();
                }
                finally
                {
                    Interlocked.Decrement(ref _running);
                }
            }
        }
    }

    /// <summary>Takes no more work, then waits up to <paramref name="wait"/> for the model threads to finish what they hold.</summary>
    /// <returns>True when every model thread has finished.</returns>
    public bool Drain(TimeSpan wait)
    {
        _jobs.Writer.TryComplete();
        var deadline = DateTime.UtcNow + wait;
        return _workers.All(w => w.Join(wait == Timeout.InfiniteTimeSpan ? wait : Max(TimeSpan.Zero, deadline - DateTime.UtcNow)));
    }

    static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;

    /// <inheritdoc />
    public ValueTask DisposeAsync()
    {
        Drain(Timeout.InfiniteTimeSpan);
        return ValueTask.CompletedTask;
    }

    /// <summary>One admitted request's place.</summary>
    public sealed class Slot(PredictionQueue queue) : IDisposable
    {
        int _released, _handedOver;

        internal void HandOver() => Volatile.Write(ref _handedOver, 1);

        internal void Release()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0)
                queue.Release();
        }

        /// <summary>Releases the place, unless a job owns it.</summary>
        public void Dispose()
        {
            if (Volatile.Read(ref _handedOver) == 0)
                Release();
        }
    }

    /// <summary>Work queued for a model thread.</summary>
    public abstract class Job
    {
        const int Queued = 0, Started = 1, Abandoned = 2;
        int _state;

        private protected Job(Slot slot) => Place = slot;

        private protected Slot Place { get; }

        /// <summary>True once a model thread has begun it.</summary>
        public bool HasStarted => Volatile.Read(ref _state) == Started;

        internal bool Start() => Interlocked.CompareExchange(ref _state, Started, Queued) == Queued;

        /// <summary>Gives up a job that has not started: it never runs and its place is free at once. False when it has started.</summary>
        public bool Abandon()
        {
            if (Interlocked.CompareExchange(ref _state, Abandoned, Queued) != Queued)
                return false;
            Place.Release();
            return true;
        }

        internal abstract void Execute();
    }

    /// <summary>Work that answers a <typeparamref name="T"/>.</summary>
    public sealed class Job<T>(Slot slot, Func<T> work) : Job(slot)
    {
        readonly TaskCompletionSource<T> _result = new(TaskCreationOptions.RunContinuationsAsynchronously);

        /// <summary>The work's result or exception.</summary>
        public Task<T> Result => _result.Task;

        internal override void Execute()
        {
            try
            {
                _result.SetResult(work());
            }
            catch (Exception e)
            {
                _result.SetException(e);
            }
            finally
            {
                Place.Release();
            }
        }
    }
}
