using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using MnistGpu.Engine;
using MnistGpu.Engine.Data;
using MnistGpu.Engine.Training;

namespace MnistGpu.Runner;

/// <summary><c>mnistgpu train</c>: trains, printing Keras-style epoch lines, then the test loss and accuracy.</summary>
internal static class TrainCommand
{
    public static Command Create(TextWriter output)
    {
        var defaults = new TrainingSettings();
        var device = Options.Device();
        var epochs = Options.Epochs(defaults.Epochs);
        var batchSize = Options.AtLeastOne("--batch-size", "Samples per step", defaults.BatchSize);
        var learningRate = Options.Positive("--learning-rate", "RMSprop step size", defaults.LearningRate);
        var hidden = Options.AtLeastOne("--hidden", "Hidden layer width", defaults.HiddenUnits);
        var seed = new Option<int>("--seed") { Description = "Seeds the initial weights and the shuffles", DefaultValueFactory = _ => defaults.Seed };
        var data = Options.Data();
        var json = new Option<FileInfo?>("--json") { Description = "Also write the run's summary as JSON to this file" };
        var memoryLimit = Options.MemoryLimit();

        var command = new Command("train", "Train the network and report test accuracy")
        {
            device, epochs, batchSize, learningRate, hidden, seed, data, json, memoryLimit,
        };
        command.SetAction(parsed =>
        {
            var settings = defaults with
            {
                Epochs = parsed.GetValue(epochs),
                BatchSize = parsed.GetValue(batchSize),
                LearningRate = parsed.GetValue(learningRate),
                HiddenUnits = parsed.GetValue(hidden),
                Seed = parsed.GetValue(seed),
            };
            return Run(output, parsed.GetValue(device)!, parsed.GetValue(memoryLimit), parsed.GetValue(data)?.FullName, parsed.GetValue(json)?.FullName, settings);
        });
        return command;
    }

    private static int Run(TextWriter output, string deviceSpec, long? memoryLimit, string? dataDirectory, string? jsonPath, TrainingSettings settings)
    {
        settings.Validate();
        if (jsonPath is not null)
            OutputFiles.RequireWritableFolder(jsonPath, "--json");
        var data = dataDirectory is null ? MnistData.LoadBundled() : MnistData.Load(dataDirectory);
        using var backend = DeviceOpener.Open(deviceSpec, memoryLimit, output);
        output.WriteLine($"Data: {data.Train.Count} training and {data.Test.Count} test images of {data.Train.Rows}x{data.Train.Columns}");

        using var trainer = new Trainer(backend, data.Train, settings);
        output.WriteLine($"Network {trainer.Network.Shape}, batch {settings.BatchSize}, RMSprop lr {settings.LearningRate.ToString(CultureInfo.InvariantCulture)}, seed {settings.Seed}");

        var epochs = new List<EpochResult>();
        for (int i = 0; i < settings.Epochs; i++)
        {
            output.WriteLine($"Epoch {i + 1}/{settings.Epochs}");
            var epoch = trainer.TrainEpoch();
            epochs.Add(epoch);
            output.WriteLine(Invariant($"{epoch.Steps}/{epoch.Steps} - {epoch.Duration.TotalSeconds:F1}s - loss: {epoch.Loss:F4} - accuracy: {epoch.Accuracy:F4}"));
        }

        var test = trainer.Evaluate(data.Test);
        output.WriteLine(Invariant($"Test loss: {test.Loss:F4} - test accuracy: {test.Accuracy:F4} ({test.Correct}/{test.Count})"));

        if (jsonPath is not null)
            WriteSummary(jsonPath, backend.DeviceName, settings, epochs, test);
        return Cli.Ok;
    }

    private static void WriteSummary(string path, string device, TrainingSettings settings, List<EpochResult> epochs, Evaluation test)
    {
        var summary = new
        {
            device,
            settings = new { settings.Epochs, settings.BatchSize, settings.LearningRate, settings.HiddenUnits, settings.Rho, settings.Epsilon, settings.Seed },
            epochs = epochs.Select(e => new { e.Epoch, e.Loss, e.Accuracy, seconds = e.Duration.TotalSeconds }),
            test = new { test.Loss, test.Accuracy, test.Correct, test.Count },
        };
        try
        {
            File.WriteAllText(path, JsonSerializer.Serialize(summary, Json.Options));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UserInputException($"cannot write {path}: {e.Message}", e);
        }
    }

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
