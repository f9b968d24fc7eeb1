using System.Diagnostics;
using MnistGpu.Engine.Backends;
using MnistGpu.Engine.Data;
using MnistGpu.Engine.Model;
using MnistGpu.Engine.Training;
using MnistGpu.Kernels;

namespace MnistGpu.Engine.Benchmarking;

/// <summary>
/// The throughput of one matrix-product form at the first layer's training shape.
/// <paramref name="Key"/> is forward, input-gradient or weight-gradient; <paramref name="Kernel"/>
/// names the implementation the device's launch plan chose.
/// </summary>
public sealed record MatMulRate(string Key, string Form, string Shape, string Kernel, double Milliseconds, double GigaflopsPerSecond);

/// <summary>One operation's share of a profiled epoch.</summary>
public sealed record OperationTime(string Operation, int Calls, double Seconds, double Share);

/// <summary>Everything <c>mnistgpu bench</c> measures on one device.</summary>
public sealed record DeviceBenchmark(
    string Device,
    double KernelCompileSeconds,
    double FirstStepSeconds,
    IReadOnlyList<double> EpochSeconds,
    double MedianEpochSeconds,
    double SamplesPerSecond,
    IReadOnlyList<MatMulRate> MatMul,
    IReadOnlyList<OperationTime> Operations,
    long ManagedBytesPerEpoch,
    double TestLoss,
    double TestAccuracy);

/// <summary>
/// Measures a device the way users train on it: open it (accelerator creation and kernel
/// compilation), train the Keras recipe for some epochs, evaluate; then, separately, the
/// matrix-product rates and a per-operation breakdown of one more, profiled, epoch.
/// </summary>
public static class Benchmark
{
    private static readonly TimeSpan MatMulBudget = TimeSpan.FromSeconds(0.5);

    /// <param name="open">Opens the device; timed as the kernel compile time.</param>
    /// <param name="onEpoch">Told about each timed epoch as it finishes.</param>
    public static DeviceBenchmark Run(Func<ITrainingBackend> open, MnistData data, TrainingSettings settings, Action<EpochResult>? onEpoch = null)
    {
        var clock = Stopwatch.StartNew();
        using var backend = open();
        double compileSeconds = clock.Elapsed.TotalSeconds;

        var watcher = new EpochWatcher(backend, clock, onEpoch);
        Evaluation test;
        using (var run = new TrainingRun(backend, data, settings))
            test = run.Run(watcher).Test!;

        var seconds = watcher.Epochs.ConvertAll(e => e.Duration.TotalSeconds);
        double median = Median(seconds.Count > 1 ? seconds.Skip(1) : seconds);
        return new DeviceBenchmark(
            backend.DeviceName,
            compileSeconds,
            watcher.FirstStepSeconds,
            seconds,
            median,
            data.Train.Count / median,
            MatMulRates(backend, Trainer.ShapeFor(data.Train, settings), settings.BatchSize),
            ProfileOneEpoch(backend, data.Train, settings),
            (long)Median((watcher.Allocated.Count > 1 ? watcher.Allocated.Skip(1) : watcher.Allocated).Select(b => (double)b)),
            test.Loss,
            test.Accuracy);
    }

    /// <summary>The three products of the first layer's training step, each timed alone.</summary>
    private static List<MatMulRate> MatMulRates(ITrainingBackend backend, NetworkShape shape, int batch)
    {
        var layerShape = shape.HiddenLayer with { Offset = 0 };
        var random = new Random(1);
        using var parameters = Filled(backend, layerShape.ParameterCount, random);
        var layer = DenseParameters.Within(backend, parameters, layerShape);
        using var x = Filled(backend, batch * shape.Inputs, random);
        using var y = Filled(backend, batch * shape.Hidden, random);
        using var dx = backend.Allocate<float>(batch * shape.Inputs);

        var forward = MatMulProblem.Forward(batch, shape.Inputs, shape.Hidden, relu: true);
        var input = MatMulProblem.BackwardInput(batch, shape.Inputs, shape.Hidden);
        var weights = MatMulProblem.BackwardParameters(batch, shape.Inputs, shape.Hidden);
        return
        [
            Rate(backend, "forward", "x·W", $"{batch}x{shape.Inputs} · {shape.Inputs}x{shape.Hidden}", forward,
                () => backend.DenseForward(layer, x, y, batch, relu: true)),
            Rate(backend, "input-gradient", "dy·Wᵀ", $"{batch}x{shape.Hidden} · {shape.Hidden}x{shape.Inputs}", input,
                () => backend.DenseBackwardInput(layer, y, x, dx, batch)),
            Rate(backend, "weight-gradient", "xᵀ·dy", $"{shape.Inputs}x{batch} · {batch}x{shape.Hidden}", weights,
                () => backend.DenseBackwardParameters(layer, x, y, batch)),
        ];
    }

    private static MatMulRate Rate(ITrainingBackend backend, string key, string form, string shape, MatMulProblem problem, Action run)
    {
        string kernel = backend.MatMulImplementation(problem);
        run();
        backend.Synchronize();
        var clock = Stopwatch.StartNew();
        int reps = 0;
        do
        {
            run();
            backend.Synchronize();
            reps++;
        }
        while (clock.Elapsed < MatMulBudget);
        double seconds = clock.Elapsed.TotalSeconds / reps;
        return new MatMulRate(key, form, shape, kernel, seconds * 1e3, problem.Flops / seconds / 1e9);
    }

    /// <summary>
    /// Dense random operands: the worst case for the kernels that skip zeros, so every variant
    /// does all of its work and the rates compare across devices.
    /// </summary>
    private static DeviceArray<float> Filled(ITrainingBackend backend, int length, Random random)
    {
        var values = new float[length];
        for (int i = 0; i < length; i++)
            values[i] = (float)(random.NextDouble() - 0.5);
        var array = backend.Allocate<float>(length);
        backend.Upload<float>(values, array);
        return array;
    }

    private static List<OperationTime> ProfileOneEpoch(ITrainingBackend backend, LabeledImages train, TrainingSettings settings)
    {
        var profiling = new ProfilingBackend(backend);
        using (var trainer = new Trainer(profiling, train, settings))
        {
            profiling.Reset();
            trainer.TrainEpoch();
        }

        double total = profiling.Totals.Values.Sum(t => t.Time.TotalSeconds);
        return profiling.Totals
            .Select(t => new OperationTime(t.Key, t.Value.Calls, t.Value.Time.TotalSeconds, t.Value.Time.TotalSeconds / total))
            .OrderByDescending(t => t.Seconds)
            .ToList();
    }

    /// <summary>Times the first step (waiting for the device, so it is really done) and counts what each epoch allocates.</summary>
    private sealed class EpochWatcher(ITrainingBackend backend, Stopwatch clock, Action<EpochResult>? onEpoch) : TrainingObserver
    {
        public List<EpochResult> Epochs { get; } = [];

        /// <summary>Managed bytes allocated by each epoch, on every thread.</summary>
        public List<long> Allocated { get; } = [];

        public double FirstStepSeconds { get; private set; }

        public override EpochResult? RunEpoch(Trainer trainer, int epoch, Func<Action<int>?, EpochResult?> train)
        {
            long before = GC.GetTotalAllocatedBytes(precise: true);
            var result = train(epoch > 1 ? null : step =>
            {
                if (step == 1)
                {
                    backend.Synchronize();
                    FirstStepSeconds = clock.Elapsed.TotalSeconds;
                }
            });
            Allocated.Add(GC.GetTotalAllocatedBytes(precise: true) - before);
            return result;
        }

        public override void EpochFinished(EpochResult result, Evaluation? test)
        {
            Epochs.Add(result);
            onEpoch?.Invoke(result);
        }
    }

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length == 0 ? double.NaN
            : sorted.Length % 2 == 1 ? sorted[sorted.Length / 2]
            : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }
}
