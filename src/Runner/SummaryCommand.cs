using System.CommandLine;
using MnistGpu.Engine.Model;
using MnistGpu.Engine.Training;
using Spectre.Console;

namespace MnistGpu.Runner;

/// <summary>
/// <c>mnistgpu summary</c>: a network as Keras' <c>model.summary()</c> shows it — each layer's
/// name and type, output shape and parameters, then the totals — for a checkpoint's network
/// (--model) or one the network options describe (by default the seed network). Nothing is
/// trained and no device is opened.
/// </summary>
internal static class SummaryCommand
{
    public static Command Create(TextWriter output)
    {
        var model = new Option<FileInfo?>("--model") { Description = "A checkpoint written by 'train --save': summarise its network" };
        var network = new NetworkOptions();
        var command = new Command("summary", "Show a network's layers, output shapes and parameters, as Keras' model.summary() does") { model };
        foreach (var option in network.Shape)
            command.Options.Add(option);
        network.Validate(command);
        command.Validators.Add(result =>
        {
            if (result.GetResult(model) is not null && network.Shape.Any(option => result.GetResult(option) is { Implicit: false }))
                result.AddError("--model's checkpoint names its network: give it or --network/--layers/--hidden, not both");
        });
        command.SetAction(parsed =>
        {
            var shape = parsed.GetValue(model) is { } checkpoint
                ? Checkpoint.Load(checkpoint.FullName).Shape
                : new NetworkShape(NetworkShape.Default.Inputs, network.Layers(parsed, new TrainingSettings().Layers), NetworkShape.Default.Classes);
            Write(output, NetworkSummary.Of(shape));
            return Cli.Ok;
        });
        return command;
    }

    /// <summary>The table and the totals under it.</summary>
    public static void Write(TextWriter output, NetworkSummary summary)
    {
        output.WriteLine($"Model: {summary.Shape}");
        var table = Tables.Create("Layer (type)", "Output Shape", "Param #");
        table.Columns[2].RightAligned();
        foreach (var layer in summary.Layers)
            table.AddRow($"{layer.Name} ({layer.Type})", layer.OutputShape, layer.Parameters.ToString("N0", System.Globalization.CultureInfo.InvariantCulture));
        Tables.Write(output, table);
        foreach (string line in summary.Totals)
            output.WriteLine($" {line}");
    }
}
