using System.CommandLine;
using MnistGpu.Engine.Data;
using MnistGpu.Engine.IO;
using MnistGpu.Engine.Training;
using MnistGpu.Reports.Previews;

namespace MnistGpu.Runner;

/// <summary><c>mnistgpu report</c>: the previews and report page of a saved checkpoint, with the history it carries.</summary>
internal static class ReportCommand
{
    public static Command Create(TextWriter output, TextWriter diagnostics)
    {
        var model = ModelOption.Create();
        var previews = PreviewOptions.Folder();
        previews.Required = true;
        var limit = PreviewOptions.Limit();
        var data = Options.Data();
        var device = Options.Device();
        var command = new Command("report", "Write previews and report.html for a checkpoint") { model, previews, limit, data, device };
        command.SetAction(parsed =>
        {
            string folder = parsed.GetValue(previews)!.FullName;
            string modelPath = parsed.GetValue(model)!.FullName;
            string? dataDirectory = parsed.GetValue(data)?.FullName;
            new CommandFiles().Input("--model", modelPath).Inputs("--data", MnistData.Files(dataDirectory)).Output(folder).Check();
            PreviewOptions.Check(folder);
            var checkpoint = Checkpoint.Load(modelPath);
            var mnist = MnistData.Load(dataDirectory);
            var test = mnist.Test;
            using var backend = DeviceOpener.Open(parsed.GetValue(device)!, memoryLimitBytes: null, diagnostics);
            using var network = new TrainedNetwork(backend, checkpoint);
            var evaluation = network.Evaluate(test);
            var firstLayer = FirstLayerPictures.Of(checkpoint, test, digitIndex: 0, pixels => network.FirstLayerOutput(pixels));
            PreviewOptions.Write(diagnostics, folder, new RunReport(backend.DeviceName, mnist.Source, checkpoint.Shape, checkpoint.Settings, checkpoint.History, evaluation, DateTimeOffset.UtcNow, firstLayer), test, parsed.GetValue(limit));
            return Cli.Ok;
        });
        return command;
    }
}
