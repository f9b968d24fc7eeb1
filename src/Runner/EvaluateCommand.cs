using System.CommandLine;
using System.Globalization;
using MnistGpu.Engine.Data;
using MnistGpu.Engine.Training;

namespace MnistGpu.Runner;

/// <summary><c>mnistgpu evaluate</c>: a checkpoint's loss, accuracy and per-class accuracy on the test set.</summary>
internal static class EvaluateCommand
{
    public static Command Create(TextWriter output, TextWriter diagnostics)
    {
        var model = ModelOption.Create();
        var data = Options.Data();
        var device = Options.Device();
        var command = new Command("evaluate", "Test loss, accuracy and per-class accuracy of a checkpoint") { model, data, device };
        command.SetAction(parsed =>
        {
            var checkpoint = Checkpoint.Load(parsed.GetValue(model)!.FullName);
            string? dataDirectory = parsed.GetValue(data)?.FullName;
            var test = MnistData.Load(dataDirectory).Test;
            using var backend = DeviceOpener.Open(parsed.GetValue(device)!, memoryLimitBytes: null, diagnostics);
            using var network = new TrainedNetwork(backend, checkpoint);
            var evaluation = network.Evaluate(test);

            diagnostics.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Model: {checkpoint.Shape} after {Options.Count(checkpoint.Position.EpochsDone, "epoch")} (seed {checkpoint.Settings.Seed})"));
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Test loss: {evaluation.Loss:F4} - test accuracy: {evaluation.Accuracy:F4} ({evaluation.Correct}/{evaluation.Count})"));
            var table = Tables.Create("class", "images", "correct", "accuracy");
            foreach (var perClass in evaluation.PerClass(checkpoint.Shape.Classes))
            {
                table.AddRow(
                    perClass.Class.ToString(CultureInfo.InvariantCulture),
                    perClass.Count.ToString(CultureInfo.InvariantCulture),
                    perClass.Correct.ToString(CultureInfo.InvariantCulture),
                    perClass.Count == 0 ? "-" : perClass.Accuracy.ToString("P2", CultureInfo.InvariantCulture));
            }

            Tables.Write(output, table);
            return Cli.Ok;
        });
        return command;
    }
}
