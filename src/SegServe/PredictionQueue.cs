using System.Diagnostics;
using System.Threading.Channels;

namespace SegServe;

/// <summary>
/// Admission and the threads that do a request's work. A request takes a place (<see cref="Admit"/>) before its body is
/// read and keeps it until its work (decoding, the model pass, encoding) is done or given up before it started. At most
/// <c>threads</c> requests are worked on at once, each on a thread of its own (so the thread pool that answers <c>/ping</c>
/// never decodes or predicts), and among them at most <c>passes</c> model passes; at most <c>limit</c> more wait. Past that a
/// request is refused with 429 before its body is read; and once its image's size is known (<see cref="Reserve"/>), where
/// the pixels ahead of it would at the measured rate keep it past its deadline, instead of being admitted only to time out.
/// Triton refuses the same way when its queue is full (max_queue_size); TorchServe answers 503.
/// </summary>
sealed class PredictionQueue : IAsyncDisposable
{
    readonly Channel<Job> _jobs = Channel.CreateUnbounded<Job>(new UnboundedChannelOptions { SingleWriter = false });
    readonly Thread[] _workers;
    readonly int _capacity;
    readonly SemaphoreSlim _passes;
    int _inSystem;
    long _idleSince = Environment.TickCount64;
    long _pendingPixels;
    int _pendingRequests;
    readonly WorkEstimate _estimate;

    [ThreadStatic]
    static long t_waitedTicks;

    public PredictionQueue(int threads, int passes, int limit, WorkEstimate estimate)
    {
        _capacity = threads + limit;
        _passes = new SemaphoreSlim(passes, passes);
        _estimate = estimate;
        _workers = [.. Enumerable.Range(0, threads).Select(i => new Thread(Work) { IsBackground = true, Name = $"seg-serve-work-{i}" })];
        foreach (var worker in _workers)
            worker.Start();
    }

    /// <summary>Requests admitted: waiting or worked on.</summary>
    public int InSystem => Volatile.Read(ref _inSystem);

    /// <summary>How long nothing has been admitted, or zero while something is.</summary>
    public TimeSpan Idle => InSystem > 0 ? TimeSpan.Zero : TimeSpan.FromMilliseconds(Environment.TickCount64 - Volatile.Read(ref _idleSince));

    /// <summary>A place for one request, released by <see cref="Slot.Dispose"/> unless <see cref="Run"/> took it over.</summary>
    /// <exception cref="ServeException">429 when every place is taken.</exception>
    public Slot Admit()
    {
        if (Interlocked.Increment(ref _inSystem) > _capacity)
        {
            Release(0, false);
            throw new ServeException(429, $"busy: {_capacity} requests are already waiting or being worked on (--threads and --queue); retry later");
        }
        return new Slot(this);
    }

    /// <summary>Counts an admitted request's image against the work ahead of the next ones.</summary>
    /// <exception cref="ServeException">429 when the work already ahead would, by the <see cref="WorkEstimate"/>, keep this one past <paramref name="left"/>.</exception>
    public void Reserve(Slot slot, long pixels, TimeSpan left)
    {
        long ahead = Interlocked.Add(ref _pendingPixels, pixels) - pixels;
        int before = Interlocked.Increment(ref _pendingRequests) - 1;
        slot.Pixels = pixels;
        slot.Reserved = true;
        var expected = _estimate.Of(before + 1, ahead + pixels);
        if (before > 0 && expected > left)
        {
            slot.Dispose();
            throw new ServeException(429, $"busy: the {before} requests ahead ({ahead / 1e6:0.#} megapixels) would take about {expected.TotalSeconds:0} s with this one, past its {left.TotalSeconds:0} s; retry later");
        }
    }

    /// <summary>Runs <paramref name="pass"/> as one of the model passes allowed at once.</summary>
    public T Pass<T>(Func<T> pass)
    {
        long waiting = Stopwatch.GetTimestamp();
        _passes.Wait();
        t_waitedTicks += Stopwatch.GetTimestamp() - waiting;
        try
        {
            return pass();
        }
        finally
        {
            _passes.Release();
        }
    }

    void Release(long pixels, bool reserved)
    {
        if (reserved)
        {
            Interlocked.Add(ref _pendingPixels, -pixels);
            Interlocked.Decrement(ref _pendingRequests);
        }
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
                long started = Stopwatch.GetTimestamp();
                long pixels = job.Pixels;
                t_waitedTicks = 0;
                try
                {
                    job.Execute();
                }
                finally
                {
                    long worked = Stopwatch.GetTimestamp() - started - t_waitedTicks;
                    _estimate.Add(pixels, (double)worked / Stopwatch.Frequency);
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

        /// <summary>The image's pixels, once <see cref="Reserve"/> counted them.</summary>
        internal long Pixels { get; set; }

        internal bool Reserved { get; set; }

        internal void HandOver() => Volatile.Write(ref _handedOver, 1);

        internal void Release()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0)
                queue.Release(Pixels, Reserved);
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

        internal long Pixels => Place.Pixels;

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
