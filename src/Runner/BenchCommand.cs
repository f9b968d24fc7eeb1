using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using MnistGpu.Engine;
using MnistGpu.Engine.Benchmarking;
using MnistGpu.Engine.Data;
using MnistGpu.Engine.Devices;
using MnistGpu.Engine.IO;
using MnistGpu.Engine.Training;
using Spectre.Console;

namespace MnistGpu.Runner;

/// <summary>
/// <c>mnistgpu bench</c>: trains the Keras recipe on one or every device and reports compile
/// time, time to the first step, epoch time, throughput, matrix-multiply rates, a per-operation
/// breakdown, managed allocations and the resulting accuracy (schema: docs/benchmarks.md).
/// </summary>
internal static class BenchCommand
{
    public const string Schema = "mnistgpu-bench/1";

    public static Command Create(TextWriter output, TextWriter diagnostics)
    {
        var defaults = new TrainingSettings();
        var device = Options.Device(all: true);
        var epochs = Options.Epochs(defaults.Epochs);
        var seed = Options.Seed(defaults.Seed);
        var data = Options.Data();
        var json = new Option<FileInfo?>("--json") { Description = "Also write the results as JSON (schema in docs/benchmarks.md)" };
        var threads = Options.Threads();
        var memoryLimit = Options.MemoryLimit();
        var unfused = new Option<bool>("--unfused") { Description = "Run every step as separate operations instead of fused, to compare the two" };
        var yes = new Option<bool>("--yes") { Description = $"With --device all on a terminal: run even when the estimate is over {LongRun.TotalMinutes:N0} minutes" };
        var targetAccuracy = Options.Fraction(
            "--target-accuracy",
            "Instead of the usual measurements: train until the test accuracy, evaluated after every epoch (and every --eval-every updates), reaches this fraction (e.g. 0.99), and report the training time to get there, evaluations timed apart; at most --epochs epochs",
            value => value > 0 && value <= 1,
            "a fraction in (0, 1], such as 0.99");
        var evaluateEvery = Options.WholeNumber(
            "--eval-every",
            "With --target-accuracy: also evaluate the test set every this many optimizer updates within an epoch",
            value => value >= 1,
            "a whole number of at least 1");
        var network = new NetworkOptions();
        var command = new Command("bench", "Measure training speed and accuracy per device, or the time to a test accuracy (--target-accuracy)")
        {
            device, epochs, seed, data, json, threads, memoryLimit, unfused, yes, targetAccuracy, evaluateEvery,
        };
        command.Validators.Add(result =>
        {
            if (result.GetResult(evaluateEvery) is { Implicit: false } && result.GetResult(targetAccuracy) is not { Implicit: false })
                result.AddError("--eval-every is an option of --target-accuracy");
        });
        foreach (var option in network.All)
            command.Options.Add(option);
        network.Validate(command);
        command.SetAction(parsed =>
        {
            string? jsonPath = parsed.GetValue(json)?.FullName;
            string? dataDirectory = parsed.GetValue(data)?.FullName;
            new CommandFiles().Output("--json", jsonPath).Inputs("--data", MnistData.Files(dataDirectory)).Check();
            if (jsonPath is not null)
                OutputFile.Check(jsonPath, "--json", OutputFile.SummaryBytes);
            // Time to accuracy trains a --network's recipe as it is, its epochs (and so its schedule's length) included, unless --epochs is given.
            bool recipeEpochs = parsed.GetResult(targetAccuracy) is { Implicit: false } && parsed.GetResult(epochs) is not { Implicit: false };
            var settings = network.Apply(parsed, defaults with { Epochs = parsed.GetValue(epochs), Seed = parsed.GetValue(seed) }, epochsGiven: !recipeEpochs);
            var mnist = MnistData.Load(dataDirectory);
            Trainer.ShapeFor(mnist.Train, settings).Validate();
            var provenance = Provenance.Collect();

            var specs = DeviceSpecs(parsed.GetValue(device)!);
            if (specs.Count > 1)
            {
                // Every device in turn can take long (ILGPU's CPU accelerator: a minute an epoch of
                // the seed network): said first, from a few timed steps on each.
                var estimates = specs.Select(spec => (Spec: spec, Time: Estimate(spec, parsed.GetValue(memoryLimit), parsed.GetValue(threads), mnist, settings))).ToList();
                var total = TimeSpan.FromTicks(estimates.Sum(e => e.Time.Ticks));
                diagnostics.WriteLine($"Estimated time: {Minutes(total)} in all ({string.Join(", ", estimates.Select(e => $"{e.Spec} {Minutes(e.Time)}"))})");
                bool terminal = ReferenceEquals(output, Console.Out) && !Console.IsOutputRedirected && !Console.IsErrorRedirected;
                if (terminal && total > LongRun && !parsed.GetValue(yes))
                    throw new UserInputException($"bench --device all would take about {Minutes(total)}; run it with --yes, or name one device (--device {estimates.MinBy(e => e.Time).Spec})");
            }

            var steps = parsed.GetValue(unfused) ? Engine.Steps.StepOptions.Unfused : Engine.Steps.StepOptions.Fused;
            if (parsed.GetValue(targetAccuracy) is double target)
            {
                var times = new List<TimeToAccuracyResult>();
                foreach (string spec in specs)
                {
                    diagnostics.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Training {Trainer.ShapeFor(mnist.Train, settings)} on {spec} to a test accuracy of {target:P2}, at most {Options.Count(settings.Epochs, "epoch")}"));
                    times.Add(TimeToAccuracy.Run(
                        () => DeviceOpener.Open(spec, parsed.GetValue(memoryLimit), diagnostics, parsed.GetValue(threads)),
                        mnist,
                        settings,
                        target,
                        parsed.GetValue(evaluateEvery) ?? 0,
                        steps,
                        check => diagnostics.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  epoch {check.Epoch}, step {check.Step} (update {check.Update}): {check.TrainingSeconds:F2} s of training, test accuracy {check.Accuracy:P2}"))));
                }

                ReportTimes(output, provenance, times);
                if (jsonPath is not null)
                    WriteJson(jsonPath, provenance, settings, devices: null, times);
                return Cli.Ok;
            }

            var results = new List<DeviceBenchmark>();
            foreach (string spec in specs)
            {
                diagnostics.WriteLine($"Benchmarking {spec}: {Trainer.ShapeFor(mnist.Train, settings)}, {settings.Optimizer}, {Options.Count(settings.Epochs, "epoch")} of {mnist.Train.Count} images, batch {settings.BatchSize}");
                results.Add(Benchmark.Run(
                    () => DeviceOpener.Open(spec, parsed.GetValue(memoryLimit), diagnostics, parsed.GetValue(threads)),
                    mnist,
                    settings,
                    steps,
                    onEpoch: epoch => diagnostics.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  epoch {epoch.Epoch}: {epoch.Duration.TotalSeconds:F2} s, loss {epoch.Loss:F4}, accuracy {epoch.Accuracy:F4}"))));
            }

            Report(output, provenance, results);
            if (jsonPath is not null)
                WriteJson(jsonPath, provenance, settings, results, timeToAccuracy: null);
            return Cli.Ok;
        });
        return command;
    }

    /// <summary>Each device's time to the target: where it was reached and after how much training, or that it was not.</summary>
    private static void ReportTimes(TextWriter output, Provenance provenance, List<TimeToAccuracyResult> results)
    {
        output.WriteLine($"commit {provenance.Commit}");
        output.WriteLine($"{provenance.DotNet}, ILGPU {provenance.Ilgpu}, CPU {provenance.Cpu} ({provenance.CpuCores} cores), {provenance.OperatingSystem}");
        foreach (var r in results)
        {
            string evaluations = string.Create(CultureInfo.InvariantCulture, $"{Options.Count(r.Checks.Count, "evaluation")} took {Duration(r.EvaluationSeconds)} more; opening the device {Duration(r.KernelCompileSeconds)}");
            output.WriteLine(r.Reached is { } at
                ? string.Create(CultureInfo.InvariantCulture, $"{r.Device}: test accuracy {at.Accuracy:P2} >= {r.Target:P2} at epoch {at.Epoch}, step {at.Step} (update {at.Update}) after {Duration(at.TrainingSeconds)} of training ({evaluations})")
                : string.Create(CultureInfo.InvariantCulture, $"{r.Device}: {r.Target:P2} not reached in {Options.Count(r.Checks[^1].Epoch, "epoch")} ({Duration(r.TrainingSeconds)} of training, best test accuracy {r.Checks.Max(c => c.Accuracy):P2}; {evaluations})"));
        }
    }

    /// <summary>Longer than this, --device all on a terminal waits for --yes.</summary>
    private static readonly TimeSpan LongRun = TimeSpan.FromMinutes(3);

    /// <summary>
    /// About how long a device's benchmark takes: opening it, then an epoch of 8 steps timed after
    /// a warm-up one, scaled to the run's epochs, its profiled epoch and its evaluations.
    /// </summary>
    private static TimeSpan Estimate(string spec, long? memoryLimit, int? threads, MnistData mnist, TrainingSettings settings)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        using var backend = DeviceOpener.Open(spec, memoryLimit, TextWriter.Null, threads);
        var open = clock.Elapsed;
        const int ProbeSteps = 8;
        using var trainer = new Trainer(backend, mnist.Train.Take((int)Math.Min(mnist.Train.Count, (long)ProbeSteps * settings.BatchSize)), settings with { Epochs = 2 });
        trainer.TrainEpoch();
        clock.Restart();
        trainer.TrainEpoch();
        double steps = (mnist.Train.Count + (double)settings.BatchSize - 1) / settings.BatchSize / trainer.StepsPerEpoch;
        return open + clock.Elapsed * (steps * (settings.Epochs + 1.5));
    }

    private static string Minutes(TimeSpan time) => time < TimeSpan.FromMinutes(1)
        ? string.Create(CultureInfo.InvariantCulture, $"{time.TotalSeconds:N0} s")
        : string.Create(CultureInfo.InvariantCulture, $"{(int)time.TotalMinutes} min {time.Seconds:D2} s");

    /// <summary>The --device value as a list of devices; "all" is every usable one.</summary>
    private static List<string> DeviceSpecs(string spec)
    {
        if (!spec.Trim().Equals("all", StringComparison.OrdinalIgnoreCase))
            return [spec];
        using var catalog = new DeviceCatalog();
        return catalog.Devices.Where(d => d.Usable).Select(d => d.Id).ToList();
    }

    /// <summary>The tables, headed by each device's short name (cpu:0), whose full names come first.</summary>
    private static void Report(TextWriter output, Provenance provenance, List<DeviceBenchmark> results)
    {
        output.WriteLine($"commit {provenance.Commit}");
        output.WriteLine($"{provenance.DotNet}, ILGPU {provenance.Ilgpu}, CPU {provenance.Cpu} ({provenance.CpuCores} cores), {provenance.OperatingSystem}");
        static string Name(DeviceBenchmark result) => result.Device.Split(' ')[0];
        foreach (var result in results)
            output.WriteLine(result.Device);
        var table = Tables.Create(["", .. results.Select(Name)]);
        AddRow(table, "kernel compile (device open)", results, r => $"{r.KernelCompileSeconds:F2} s");
        AddRow(table, "time to first finished step", results, r => $"{r.FirstStepSeconds:F2} s");
        AddRow(table, "epoch time (median after the first)", results, r => $"{Duration(r.MedianEpochSeconds)}");
        AddRow(table, "epoch times", results, r => $"{string.Join(", ", r.EpochSeconds.Select(Duration))}");
        AddRow(table, "samples per second", results, r => $"{r.SamplesPerSecond:N0}");
        for (int i = 0; i < results[0].MatMul.Count; i++)
        {
            int form = i;
            AddRow(table, $"GFLOP/s {results[0].MatMul[form].Form} {results[0].MatMul[form].Shape}", results, r => $"{r.MatMul[form].GigaflopsPerSecond:F2} ({r.MatMul[form].Milliseconds:F3} ms, {r.MatMul[form].Kernel})");
        }

        AddRow(table, "managed bytes allocated per epoch", results, r => $"{r.ManagedBytesPerEpoch:N0}");
        AddRow(table, "peak resident memory (process, so far)", results, r => $"{r.PeakWorkingSetBytes / (1024.0 * 1024):N0} MiB");
        AddRow(table, "training step", results, r => $"{(r.FusedSteps ? "fused where the device can" : "separate operations (--unfused)")}");
        AddRow(table, "kernel launches per step", results, r => $"{r.LaunchesPerStep}");
        AddRow(table, "host time issuing launches per epoch", results, r => $"{Duration(r.LaunchIssueSecondsPerEpoch)}");
        AddRow(table, "test loss / accuracy", results, r => $"{r.TestLoss:F4} / {r.TestAccuracy:P2}");
        Tables.Write(output, table);

        foreach (var result in results.Where(r => r.MatMulVariants.Select(v => v.Kernel).Distinct().Count() > 1))
        {
            var forms = result.MatMul.Select(m => m.Key).ToList();
            var variants = Tables.Create([$"GFLOP/s per variant on {Name(result)}", .. result.MatMul.Select(m => m.Form)]);
            foreach (var kernel in result.MatMulVariants.GroupBy(v => v.Kernel))
                variants.AddRow([kernel.Key, .. forms.Select(key => kernel.Single(v => v.Key == key).GigaflopsPerSecond.ToString("F2", CultureInfo.InvariantCulture))]);
            Tables.Write(output, variants);
        }

        foreach (var result in results.Where(r => r.ConvolutionForms.Count > 0))
        {
            var forms = result.ConvolutionForms.Select(c => c.Form).Distinct().ToList();
            var convolutions = Tables.Create([$"convolution GFLOP/s per form on {Name(result)}", "maps", .. forms, "kernels"]);
            foreach (var product in result.ConvolutionForms.GroupBy(c => c.Key))
            {
                var cells = forms.Select(form => product.Single(c => c.Form == form)).ToList();
                convolutions.AddRow([product.Key, cells[0].Shape, .. cells.Select(c => c.GigaflopsPerSecond.ToString("F1", CultureInfo.InvariantCulture)), string.Join(" | ", cells.Select(c => c.Kernel))]);
            }

            Tables.Write(output, convolutions);
        }

        foreach (var result in results)
        {
            var breakdown = Tables.Create($"profiled epoch on {Name(result)}", "calls", "time", "share", "GFLOP/s");
            foreach (var op in result.Operations)
                breakdown.AddRow(op.Operation, op.Calls.ToString(CultureInfo.InvariantCulture), Duration(op.Seconds), op.Share.ToString("P1", CultureInfo.InvariantCulture), op.GigaflopsPerSecond?.ToString("F1", CultureInfo.InvariantCulture) ?? "");
            Tables.Write(output, breakdown);
        }
    }

    private static void AddRow(Table table, string metric, List<DeviceBenchmark> results, Func<DeviceBenchmark, FormattableString> cell) =>
        table.AddRow([metric, .. results.Select(r => cell(r).ToString(CultureInfo.InvariantCulture))]);

    private static string Duration(double seconds) =>
        seconds < 1 ? string.Create(CultureInfo.InvariantCulture, $"{seconds * 1e3:F1} ms") : string.Create(CultureInfo.InvariantCulture, $"{seconds:F2} s");

    /// <summary>The results as JSON: the usual benchmark's <c>devices</c>, or with --target-accuracy <c>timeToAccuracy</c>, one per device (docs/benchmarks.md).</summary>
    private static void WriteJson(string path, Provenance provenance, TrainingSettings settings, List<DeviceBenchmark>? devices, List<TimeToAccuracyResult>? timeToAccuracy)
    {
        var settingsJson = new { settings.Epochs, settings.BatchSize, settings.HiddenUnits, settings.Layers, optimizer = TrainCommand.OptimizerJson(settings.Optimizer), settings.LearningRate, lrSchedule = settings.Schedule.Text, settings.Seed };
        object document = devices is not null
            ? new { schema = Schema, provenance, settings = settingsJson, devices }
            : new { schema = Schema, provenance, settings = settingsJson, timeToAccuracy };
        OutputFile.Write(path, JsonSerializer.SerializeToUtf8Bytes(document, Json.Options));
    }
}
