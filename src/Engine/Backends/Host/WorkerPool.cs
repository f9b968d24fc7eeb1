using System.Runtime.ExceptionServices;

namespace MnistGpu.Engine.Backends.Host;

/// <summary>A piece of parallel work, split into numbered parts.</summary>
internal interface IParallelWork
{
    void Execute(int part);
}

/// <summary>
/// A fixed set of threads started once, so a training step starts no thread and allocates
/// nothing. <see cref="Run"/> publishes the work and takes parts itself like every worker; parts
/// are claimed with an interlocked counter, and Run returns only when every worker has left the
/// work, so no worker can ever claim a part of the next one with the previous one's task. Workers
/// spin briefly between operations (a step issues several in quick succession), yielding the core
/// so that more threads than cores cost little, and sleep when idle.
/// A part that throws does not kill its thread: the first exception is rethrown by Run, on the
/// caller's thread, once every other part is done.
/// </summary>
internal sealed class WorkerPool : IDisposable
{
    private const int SpinsBeforeSleep = 20_000;

    private readonly Thread[] workers;
    private readonly SemaphoreSlim wake = new(0);
    private IParallelWork? work;
    private int parts;
    private int nextPart;
    private int workersDone;
    private int generation;
    private int sleepers;
    private volatile bool disposed;
    private ExceptionDispatchInfo? failure;

    public WorkerPool(int threads)
    {
        Threads = Math.Max(1, threads);
        workers = new Thread[Threads - 1];
        for (int i = 0; i < workers.Length; i++)
        {
            workers[i] = new Thread(Work) { IsBackground = true, Name = $"mnistgpu-host-{i + 1}" };
            workers[i].Start();
        }
    }

    /// <summary>Threads doing the work, the caller's included.</summary>
    public int Threads { get; }

    /// <summary>Runs parts 0..<paramref name="count"/>−1 of <paramref name="task"/> across the pool and returns when all are done.</summary>
    /// <exception cref="Exception">The first exception a part threw.</exception>
    public void Run(int count, IParallelWork task)
    {
        if (count <= 1 || workers.Length == 0)
        {
            for (int part = 0; part < count; part++)
                task.Execute(part);
            return;
        }

        work = task;
        parts = count;
        nextPart = 0;
        workersDone = 0;
        Interlocked.Increment(ref generation);
        int asleep = Volatile.Read(ref sleepers);
        if (asleep > 0)
            wake.Release(asleep);

        TakeParts(task);
        var spin = new SpinWait();
        while (Volatile.Read(ref workersDone) < workers.Length)
            spin.SpinOnce(sleep1Threshold: -1);
        work = null;
        var thrown = Interlocked.Exchange(ref failure, null);
        thrown?.Throw();
    }

    public void Dispose()
    {
        disposed = true;
        Interlocked.Increment(ref generation);
        if (workers.Length > 0)
            wake.Release(workers.Length);
        foreach (var worker in workers)
            worker.Join();
        wake.Dispose();
    }

    private void Work()
    {
        int seen = 0;
        while (true)
        {
            var spin = new SpinWait();
            while (Volatile.Read(ref generation) == seen)
            {
                // SpinWait yields the core after a few spins: with more threads than cores, a
                // waiting worker must not hold a core that a working one needs.
                if (spin.Count < SpinsBeforeSleep)
                {
                    spin.SpinOnce(sleep1Threshold: -1);
                    continue;
                }

                Interlocked.Increment(ref sleepers);
                if (Volatile.Read(ref generation) == seen)
                    wake.Wait();
                Interlocked.Decrement(ref sleepers);
                spin.Reset();
            }

            seen = Volatile.Read(ref generation);
            if (disposed)
                return;
            TakeParts(work!);
            Interlocked.Increment(ref workersDone);
        }
    }

    private void TakeParts(IParallelWork task)
    {
        int part;
        while ((part = Interlocked.Increment(ref nextPart) - 1) < parts)
        {
            try
            {
                task.Execute(part);
            }
            catch (Exception e)
            {
                Interlocked.CompareExchange(ref failure, ExceptionDispatchInfo.Capture(e), null);
            }
        }
    }
}
