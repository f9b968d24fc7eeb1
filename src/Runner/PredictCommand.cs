using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using MnistGpu.Engine.Imaging;
using MnistGpu.Engine.Training;

namespace MnistGpu.Runner;

/// <summary><c>mnistgpu predict</c>: the digit in each picture, with the top-3 probabilities.</summary>
internal static class PredictCommand
{
    public static Command Create(TextWriter output)
    {
        var model = ModelOption.Create();
        var images = new Argument<FileInfo[]>("IMAGE") { Description = "PNG, JPEG, BMP or GIF pictures of one digit each", Arity = ArgumentArity.OneOrMore };
        var json = new Option<bool>("--json") { Description = "Print one JSON document instead of text" };
        var device = Options.Device();
        var command = new Command("predict", "Classify pictures of digits with a checkpoint") { model, images, json, device };
        command.SetAction(parsed =>
        {
            var checkpoint = Checkpoint.Load(parsed.GetValue(model)!.FullName);
            var files = parsed.GetValue(images)!;
            // Every picture is read and checked before the device is opened: a bad one fails fast.
            var pixels = files.SelectMany(file => DigitImage.Load(file.FullName)).ToArray();
            if (checkpoint.Shape.Inputs != DigitImage.Side * DigitImage.Side)
                throw new Engine.UserInputException($"the model takes {checkpoint.Shape.Inputs} pixels; pictures are made into {DigitImage.Side}x{DigitImage.Side}");

            bool asJson = parsed.GetValue(json);
            using var backend = DeviceOpener.Open(parsed.GetValue(device)!, memoryLimitBytes: null, asJson ? TextWriter.Null : output);
            using var network = new TrainedNetwork(backend, checkpoint);
            int classes = checkpoint.Shape.Classes;
            var probabilities = network.Probabilities(pixels);
            var predictions = files.Select((file, i) => Prediction.Of(file.ToString(), probabilities.AsSpan(i * classes, classes))).ToList();

            if (asJson)
            {
                output.WriteLine(JsonSerializer.Serialize(predictions, Json.Options));
            }
            else
            {
                foreach (var p in predictions)
                    output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{p.Image}: {p.Digit} (top 3: {string.Join(", ", p.Top3.Select(t => $"{t.Digit} {t.Probability:P1}"))})"));
            }

            return Cli.Ok;
        });
        return command;
    }

    private sealed record Prediction(string Image, int Digit, IReadOnlyList<Candidate> Top3)
    {
        public static Prediction Of(string image, ReadOnlySpan<float> probabilities)
        {
            var ranked = probabilities.ToArray().Select((p, digit) => new Candidate(digit, p)).OrderByDescending(c => c.Probability).Take(3).ToList();
            return new Prediction(image, ranked[0].Digit, ranked);
        }
    }

    private sealed record Candidate(int Digit, float Probability);
}
