using System.Diagnostics;
using MnistGpu.Engine.Backends;
using MnistGpu.Engine.Data;
using MnistGpu.Engine.Model;
using MnistGpu.Engine.Model.Layers;
using MnistGpu.Engine.Steps;
using MnistGpu.Engine.Training;
using MnistGpu.Kernels;

namespace MnistGpu.Engine.Benchmarking;

/// <summary>
/// The throughput of one matrix-product form at the first layer's training shape.
/// <paramref name="Key"/> is forward, input-gradient or weight-gradient; <paramref name="Kernel"/>
/// names the implementation measured.
/// </summary>
public sealed record MatMulRate(string Key, string Form, string Shape, string Kernel, double Milliseconds, double GigaflopsPerSecond);

/// <summary>One operation's share of a profiled epoch, and the rate of its products (null for an operation without any).</summary>
public sealed record OperationTime(string Operation, int Calls, double Seconds, double Share, double? GigaflopsPerSecond);

/// <summary>
/// Everything <c>mnistgpu bench</c> measures on one device. <paramref name="PeakWorkingSetBytes"/>
/// is the process's peak resident memory so far: this device's run and any benchmarked before it.
/// </summary>
public sealed record DeviceBenchmark(
    string Device,
    double KernelCompileSeconds,
    double FirstStepSeconds,
    IReadOnlyList<double> EpochSeconds,
    double MedianEpochSeconds,
    double SamplesPerSecond,
    IReadOnlyList<MatMulRate> MatMul,
    IReadOnlyList<MatMulRate> MatMulVariants,
    IReadOnlyList<MatMulRate> ConvolutionForms,
    IReadOnlyList<OperationTime> Operations,
    long ManagedBytesPerEpoch,
    bool FusedSteps,
    int LaunchesPerStep,
    double LaunchIssueSecondsPerEpoch,
    double TestLoss,
    double TestAccuracy,
    long PeakWorkingSetBytes);

/// <summary>
/// Measures a device the way users train on it: open it (accelerator creation and kernel
/// compilation), train the Keras recipe for some epochs, evaluate; then, separately, the
/// matrix-product rates and a per-operation breakdown of one more, profiled, epoch.
/// </summary>
public static class Benchmark
{
    private static readonly TimeSpan MatMulBudget = TimeSpan.FromSeconds(0.5);

    /// <summary>The products of a dense layer's step, in the order reports list them.</summary>
    private static readonly List<string> FormOrder = ["forward", "input-gradient", "weight-gradient"];

    /// <param name="open">Opens the device; timed as the kernel compile time.</param>
    /// <param name="steps">How steps run: fused where the device can, or the plain definition (<see cref="StepOptions.Unfused"/>), for A/B runs.</param>
    /// <param name="onEpoch">Told about each timed epoch as it finishes.</param>
    public static DeviceBenchmark Run(Func<ITrainingBackend> open, MnistData data, TrainingSettings settings, StepOptions steps, Action<EpochResult>? onEpoch = null)
    {
        var clock = Stopwatch.StartNew();
        using var backend = open();
        double compileSeconds = clock.Elapsed.TotalSeconds;

        var watcher = new EpochWatcher(backend, clock, onEpoch);
        var test = TrainAndEvaluate(backend, data, settings, steps, watcher);
        Trainer.ReleaseHostMemory(backend, Trainer.ShapeFor(data.Train, settings));

        var shape = Trainer.ShapeFor(data.Train, settings);
        int launchesPerStep = PlannedStep.Of(backend, shape, settings.BatchSize, settings.Optimizer, steps).Count;
        // The first dense layer's products, where the network is a dense stack; a convnet's
        // per-layer rates are the profile's (OperationTime.GigaflopsPerSecond).
        var variants = shape.IsDenseStack ? MatMulRates(backend, shape, settings.BatchSize) : [];
        var planned = variants.Where(r => r.Kernel == r.Planned).Select(r => r.Rate).OrderBy(r => FormOrder.IndexOf(r.Key)).ToList();
        var seconds = watcher.Epochs.ConvertAll(e => e.Duration.TotalSeconds);
        double median = Median(seconds.Count > 1 ? seconds.Skip(1) : seconds);
        return new DeviceBenchmark(
            backend.DeviceName,
            compileSeconds,
            watcher.FirstStepSeconds,
            seconds,
            median,
            data.Train.Count / median,
            planned,
            variants.ConvertAll(r => r.Rate),
            ConvolutionRates(backend, shape, settings.BatchSize, steps.Convolutions),
            ProfileOneEpoch(backend, data.Train, settings, steps),
            (long)Median((watcher.Allocated.Count > 1 ? watcher.Allocated.Skip(1) : watcher.Allocated).Select(b => (double)b)),
            steps.Form == StepForm.Fused,
            launchesPerStep,
            Median(watcher.IssueSeconds.Count > 1 ? watcher.IssueSeconds.Skip(1) : watcher.IssueSeconds),
            test.Loss,
            test.Accuracy,
            Process.GetCurrentProcess().PeakWorkingSet64);
    }

    /// <summary>
    /// The timed run, in a method of its own so that nothing of its network is reachable once it
    /// returns: the phases after it allocate as much again, and must find that memory free.
    /// </summary>
    private static Evaluation TrainAndEvaluate(ITrainingBackend backend, MnistData data, TrainingSettings settings, StepOptions steps, EpochWatcher watcher)
    {
        using var run = new TrainingRun(backend, data, settings, new TrainingRunOptions { Steps = steps });
        return run.Run(watcher).Test!;
    }

    /// <summary>
    /// The three products of the first layer's training step, each timed alone, with every
    /// matrix-multiply variant the device can run; each with the variant its plan would choose.
    /// </summary>
    private static List<(MatMulRate Rate, string Kernel, string Planned)> MatMulRates(ITrainingBackend backend, NetworkShape shape, int batch)
    {
        var layerShape = new DenseLayerShape(shape.Inputs, shape.Hidden, offset: 0);
        var random = new Random(1);
        using var parameters = Filled(backend, (int)layerShape.ParameterCount, random);
        var layer = layerShape.Within(backend, parameters);
        using var x = Filled(backend, batch * shape.Inputs, random);
        using var y = Filled(backend, batch * shape.Hidden, random);
        using var dx = backend.Allocate<float>(batch * shape.Inputs);

        var forms = new (string Key, string Form, string Shape, MatMulProblem Problem, Action Run)[]
        {
            ("forward", "x·W", $"{batch}x{shape.Inputs} · {shape.Inputs}x{shape.Hidden}", MatMulProblem.Forward(batch, shape.Inputs, shape.Hidden, relu: true),
                () => backend.DenseForward(layer, x, y, batch, relu: true)),
            ("input-gradient", "dy·Wᵀ", $"{batch}x{shape.Hidden} · {shape.Hidden}x{shape.Inputs}", MatMulProblem.BackwardInput(batch, shape.Inputs, shape.Hidden),
                () => backend.DenseBackwardInput(layer, y, x, dx, batch, relu: true)),
            ("weight-gradient", "xᵀ·dy", $"{shape.Inputs}x{batch} · {batch}x{shape.Hidden}", MatMulProblem.BackwardParameters(batch, shape.Inputs, shape.Hidden),
                () => backend.DenseBackwardParameters(layer, x, y, batch)),
        };
        var planned = forms.Select(f => backend.MatMulImplementation(f.Problem)).ToArray();
        var rates = new List<(MatMulRate, string, string)>();
        foreach (string variant in backend.MatMulVariants)
        {
            backend.MatMulVariantOverride = variant;
            try
            {
                for (int i = 0; i < forms.Length; i++)
                    rates.Add((Rate(backend, forms[i].Key, forms[i].Form, forms[i].Shape, forms[i].Problem, forms[i].Run), variant, planned[i]));
            }
            finally
            {
                backend.MatMulVariantOverride = null;
            }
        }

        return rates;
    }

    private static MatMulRate Rate(ITrainingBackend backend, string key, string form, string shape, MatMulProblem problem, Action run)
    {
        double seconds = SecondsPerRun(backend, run);
        return new MatMulRate(key, form, shape, backend.MatMulImplementation(problem), seconds * 1e3, problem.Flops / seconds / 1e9);
    }

    /// <summary>
    /// Each convolution's three products at the training batch, timed alone in every form the
    /// device runs: on ILGPU devices the implicit products (what fused steps run) and the unrolled
    /// composition (<c>--unfused</c>), each named by the kernels it launches; elsewhere the
    /// backend's one form. Key: "conv1 forward" and so on; Form: "implicit" or "unrolled".
    /// </summary>
    private static List<MatMulRate> ConvolutionRates(ITrainingBackend backend, NetworkShape shape, int batch, ConvolutionAlgorithm run)
    {
        var rates = new List<MatMulRate>();
        var recorder = backend as IlgpuBackend ?? backend.FusionTarget as IlgpuBackend;
        ConvolutionAlgorithm[] algorithms = recorder is null ? [run] : [ConvolutionAlgorithm.Implicit, ConvolutionAlgorithm.Unrolled];
        var random = new Random(1);
        foreach (var (layer, number) in shape.Layers.OfType<Conv2DLayerShape>().Select((layer, i) => (layer, i + 1)))
        {
            var s = layer.Geometry;
            int inputs = batch * s.Height * s.Width * s.Channels, outputs = batch * s.Positions * s.Filters;
            // The layer's views start at its offset in the network's flat arrays.
            using var parameters = Filled(backend, (int)(layer.Offset + layer.ParameterCount), random);
            using var x = Filled(backend, inputs, random);
            using var y = Filled(backend, outputs, random);
            using var dx = backend.Allocate<float>(inputs);
            using var scratch = backend.Allocate<float>((int)Math.Max(1, batch * layer.ScratchPerRow));
            string size = $"{s.Height}x{s.Width}x{s.Channels}->{s.OutputHeight}x{s.OutputWidth}x{s.Filters}, batch {batch}";
            double flops = 2.0 * batch * s.Positions * s.PatchSize * s.Filters;
            foreach (var algorithm in algorithms)
            {
                var convolution = layer.Within(backend, parameters, algorithm);
                var products = new (string Key, Action Run)[]
                {
                    ("forward", () => backend.ConvolutionForward(convolution, x, y, scratch, batch, relu: true)),
                    ("input-gradient", () => backend.ConvolutionBackwardInput(convolution, y, x, dx, scratch, batch, relu: true)),
                    ("weight-gradient", () => backend.ConvolutionBackwardParameters(convolution, x, y, scratch, batch)),
                };
                foreach (var (key, product) in products)
                {
                    string kernels = recorder is null ? backend.DeviceName : string.Join(" + ", recorder.Record(product).Select(l => l.Kernel.Name).Distinct());
                    double seconds = SecondsPerRun(backend, product);
                    rates.Add(new MatMulRate($"conv{number} {key}", algorithm == ConvolutionAlgorithm.Implicit ? "implicit" : "unrolled", size, kernels, seconds * 1e3, flops / seconds / 1e9));
                }
            }
        }

        return rates;
    }

    /// <summary>One run of <paramref name="run"/> to warm up, then as many as fit in <see cref="MatMulBudget"/>: the mean seconds of one.</summary>
    private static double SecondsPerRun(ITrainingBackend backend, Action run)
    {
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
        return clock.Elapsed.TotalSeconds / reps;
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

    private static List<OperationTime> ProfileOneEpoch(ITrainingBackend backend, LabeledImages train, TrainingSettings settings, StepOptions steps)
    {
        var profiling = new ProfilingBackend(backend);
        using (var trainer = new Trainer(profiling, train, settings, steps: steps))
        {
            profiling.Reset();
            trainer.TrainEpoch();
        }

        double total = profiling.Totals.Values.Sum(t => t.Time.TotalSeconds);
        return profiling.Totals
            .Select(t => new OperationTime(
                t.Key, t.Value.Calls, t.Value.Time.TotalSeconds, t.Value.Time.TotalSeconds / total, t.Value.Flops > 0 ? t.Value.Flops / t.Value.Time.TotalSeconds / 1e9 : null))
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

        /// <summary>Host seconds spent issuing kernel launches, per epoch.</summary>
        public List<double> IssueSeconds { get; } = [];

        public override EpochResult? RunEpoch(Trainer trainer, int epoch, Func<Action<int>?, EpochResult?> train)
        {
            long before = GC.GetTotalAllocatedBytes(precise: true);
            var issue = backend.LaunchIssueTime;
            var result = train(epoch > 1 ? null : step =>
            {
                if (step == 1)
                {
                    backend.Synchronize();
                    FirstStepSeconds = clock.Elapsed.TotalSeconds;
                }
            });
            Allocated.Add(GC.GetTotalAllocatedBytes(precise: true) - before);
            IssueSeconds.Add((backend.LaunchIssueTime - issue).TotalSeconds);
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
