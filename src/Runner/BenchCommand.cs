using System.CommandLine;
using System.Globalization;
using System.Text.Json;
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
        var network = new NetworkOptions();
        var command = new Command("bench", "Measure training speed and accuracy per device")
        {
            device, epochs, seed, data, json, threads, memoryLimit, unfused,
        };
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
            var settings = network.Apply(parsed, defaults with { Epochs = parsed.GetValue(epochs), Seed = parsed.GetValue(seed) });
            var mnist = MnistData.Load(dataDirectory);
            Trainer.ShapeFor(mnist.Train, settings).Validate();
            var provenance = Provenance.Collect();

            var results = new List<DeviceBenchmark>();
            foreach (string spec in DeviceSpecs(parsed.GetValue(device)!))
            {
                diagnostics.WriteLine($"Benchmarking {spec}: {Trainer.ShapeFor(mnist.Train, settings)}, {settings.Optimizer}, {Options.Count(settings.Epochs, "epoch")} of {mnist.Train.Count} images, batch {settings.BatchSize}");
                results.Add(Benchmark.Run(
                    () => DeviceOpener.Open(spec, parsed.GetValue(memoryLimit), diagnostics, parsed.GetValue(threads)),
                    mnist,
                    settings,
                    fused: !parsed.GetValue(unfused),
                    onEpoch: epoch => diagnostics.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  epoch {epoch.Epoch}: {epoch.Duration.TotalSeconds:F2} s, loss {epoch.Loss:F4}, accuracy {epoch.Accuracy:F4}"))));
            }

            Report(output, provenance, results);
            if (jsonPath is not null)
                WriteJson(jsonPath, provenance, settings, results);
            return Cli.Ok;
        });
        return command;
    }

    /// <summary>The --device value as a list of devices; "all" is every usable one.</summary>
    private static List<string> DeviceSpecs(string spec)
    {
        if (!spec.Trim().Equals("all", StringComparison.OrdinalIgnoreCase))
            return [spec];
        using var catalog = new DeviceCatalog();
        return catalog.Devices.Where(d => d.Usable).Select(d => d.Id).ToList();
    }

    private static void Report(TextWriter output, Provenance provenance, List<DeviceBenchmark> results)
    {
        output.WriteLine($"commit {provenance.Commit}, {provenance.DotNet}, ILGPU {provenance.Ilgpu}, CPU {provenance.Cpu} ({provenance.CpuCores} cores), {provenance.OperatingSystem}");
        var table = Tables.Create(["", .. results.Select(r => r.Device)]);
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
            var variants = Tables.Create([$"GFLOP/s per variant on {result.Device}", .. result.MatMul.Select(m => m.Form)]);
            foreach (var kernel in result.MatMulVariants.GroupBy(v => v.Kernel))
                variants.AddRow([kernel.Key, .. forms.Select(key => kernel.Single(v => v.Key == key).GigaflopsPerSecond.ToString("F2", CultureInfo.InvariantCulture))]);
            Tables.Write(output, variants);
        }

        foreach (var result in results.Where(r => r.ConvolutionForms.Count > 0))
        {
            var forms = result.ConvolutionForms.Select(c => c.Form).Distinct().ToList();
            var convolutions = Tables.Create([$"convolution GFLOP/s per form on {result.Device}", "maps", .. forms, "kernels"]);
            foreach (var product in result.ConvolutionForms.GroupBy(c => c.Key))
            {
                var cells = forms.Select(form => product.Single(c => c.Form == form)).ToList();
                convolutions.AddRow([product.Key, cells[0].Shape, .. cells.Select(c => c.GigaflopsPerSecond.ToString("F1", CultureInfo.InvariantCulture)), string.Join(" | ", cells.Select(c => c.Kernel))]);
            }

            Tables.Write(output, convolutions);
        }

        foreach (var result in results)
        {
            var breakdown = Tables.Create($"profiled epoch on {result.Device}", "calls", "time", "share", "GFLOP/s");
            foreach (var op in result.Operations)
                breakdown.AddRow(op.Operation, op.Calls.ToString(CultureInfo.InvariantCulture), Duration(op.Seconds), op.Share.ToString("P1", CultureInfo.InvariantCulture), op.GigaflopsPerSecond?.ToString("F1", CultureInfo.InvariantCulture) ?? "");
            Tables.Write(output, breakdown);
        }
    }

    private static void AddRow(Table table, string metric, List<DeviceBenchmark> results, Func<DeviceBenchmark, FormattableString> cell) =>
        table.AddRow([metric, .. results.Select(r => cell(r).ToString(CultureInfo.InvariantCulture))]);

    private static string Duration(double seconds) =>
        seconds < 1 ? string.Create(CultureInfo.InvariantCulture, $"{seconds * 1e3:F1} ms") : string.Create(CultureInfo.InvariantCulture, $"{seconds:F2} s");

    private static void WriteJson(string path, Provenance provenance, TrainingSettings settings, List<DeviceBenchmark> results)
    {
        var document = new
        {
            schema = Schema,
            provenance,
            settings = new { settings.Epochs, settings.BatchSize, settings.HiddenUnits, settings.Layers, optimizer = TrainCommand.OptimizerJson(settings.Optimizer), settings.LearningRate, settings.Seed },
            devices = results,
        };
        OutputFile.Write(path, JsonSerializer.SerializeToUtf8Bytes(document, Json.Options));
    }
}
