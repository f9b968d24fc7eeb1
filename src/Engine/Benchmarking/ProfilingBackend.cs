using System.Diagnostics;
using MnistGpu.Engine.Backends;
using MnistGpu.Engine.Model;

namespace MnistGpu.Engine.Benchmarking;

/// <summary>
/// Wraps a backend and times every training operation on it, waiting for the device before and
/// after each one so that asynchronous work is charged to the operation that issued it. The
/// waiting changes the total, so use it for a breakdown, never for the epoch time itself. A
/// breakdown is of the unfused operations, so it opts out of fusion (<see cref="FusionTarget"/>)
/// and training steps are composed from them even where the inner backend fuses them.
/// </summary>
public sealed class ProfilingBackend(ITrainingBackend inner) : DelegatingBackend(inner)
{
    private readonly Dictionary<string, (int Calls, TimeSpan Time, long Flops)> totals = [];

    /// <summary>Operation label → (calls, total time, floating-point operations of its products), in first-call order.</summary>
    public IReadOnlyDictionary<string, (int Calls, TimeSpan Time, long Flops)> Totals => totals;

    public void Reset() => totals.Clear();

    /// <summary>Opts out of fusion, so that each operation is timed on its own.</summary>
    public override ITrainingBackend? FusionTarget => null;

    protected override void Around(string operation, long flops, Action body)
    {
        Inner.Synchronize();
        long start = Stopwatch.GetTimestamp();
        body();
        Inner.Synchronize();
        var elapsed = Stopwatch.GetElapsedTime(start);
        totals[operation] = totals.TryGetValue(operation, out var total) ? (total.Calls + 1, total.Time + elapsed, total.Flops + flops) : (1, elapsed, flops);
    }
}
