using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using MnistGpu.Engine;
using MnistGpu.Engine.Training;
using MnistGpu.Reports.Imaging;

namespace MnistGpu.Runner;

/// <summary>
/// <c>mnistgpu predict</c>: the digit in each picture, with the top-3 probabilities. Each picture
/// stands on its own, like <c>sha256sum</c>'s files: the good ones are answered on stdout, each
/// bad one gets one line on stderr, and the exit code is 2 at the end if any was bad.
/// </summary>
internal static class PredictCommand
{
    public static Command Create(TextWriter output, TextWriter diagnostics, TextWriter error)
    {
        var model = ModelOption.Create();
        var images = new Argument<FileInfo[]>("IMAGE") { Description = "PNG, JPEG, BMP or GIF pictures of one digit each", Arity = ArgumentArity.OneOrMore };
        var json = new Option<bool>("--json") { Description = "Print one JSON document instead of text; a bad picture's entry carries its error" };
        var device = Options.Device();
        var command = new Command("predict", "Classify pictures of digits with a checkpoint") { model, images, json, device };
        command.SetAction(parsed =>
        {
            var checkpoint = Checkpoint.Load(parsed.GetValue(model)!.FullName);
            if (checkpoint.Shape.Inputs != DigitImage.Side * DigitImage.Side)
                throw new UserInputException($"the model takes {checkpoint.Shape.Inputs} pixels; pictures are made into {DigitImage.Side}x{DigitImage.Side}");

            // Every picture is read and checked before the device is opened, so bad ones cost nothing.
            var pictures = parsed.GetValue(images)!.Select(file => Picture.Read(file.ToString(), file.FullName)).ToList();
            var readable = pictures.Where(p => p.Pixels is not null).ToList();
            bool asJson = parsed.GetValue(json);
            if (readable.Count > 0)
            {
                using var backend = DeviceOpener.Open(parsed.GetValue(device)!, memoryLimitBytes: null, diagnostics);
                using var network = new TrainedNetwork(backend, checkpoint);
                var probabilities = network.Probabilities(readable.SelectMany(p => p.Pixels!).ToArray());
                int classes = checkpoint.Shape.Classes;
                for (int i = 0; i < readable.Count; i++)
                    readable[i].Answer(probabilities.AsSpan(i * classes, classes));
            }

            if (asJson)
                output.WriteLine(JsonSerializer.Serialize(pictures.Select(p => p.Result()).ToList(), Json.Options));
            foreach (var picture in pictures)
            {
                if (picture.Error is not null)
                    error.WriteLine($"mnistgpu: {Cli.ErrorLine(picture.Error)}");
                else if (!asJson)
                    output.WriteLine(picture.Line());
            }

            return pictures.Any(p => p.Error is not null) ? Cli.UsageError : Cli.Ok;
        });
        return command;
    }

    /// <summary>One picture on the command line: its pixels, or why it has none, then its prediction.</summary>
    private sealed class Picture(string name, float[]? pixels, string? error)
    {
        private List<Candidate> top3 = [];

        public float[]? Pixels { get; } = pixels;

        public string? Error { get; private set; } = error;

        public static Picture Read(string name, string path)
        {
            try
            {
                return new Picture(name, DigitImage.Load(path), null);
            }
            catch (UserInputException e)
            {
                return new Picture(name, null, e.Message);
            }
        }

        public void Answer(ReadOnlySpan<float> probabilities)
        {
            foreach (float p in probabilities)
            {
                if (!float.IsFinite(p))
                {
                    Error = $"{name}: the network's output is not finite (its weights are too large for float arithmetic)";
                    return;
                }
            }

            top3 = probabilities.ToArray().Select((p, digit) => new Candidate(digit, p)).OrderByDescending(c => c.Probability).Take(3).ToList();
        }

        public string Line() => string.Create(
            CultureInfo.InvariantCulture,
            $"{Cli.OneLine(name)}: {top3[0].Digit} (top 3: {string.Join(", ", top3.Select(t => $"{t.Digit} {t.Probability:P1}"))})");

        public object Result() => Error is null ? new Prediction(name, top3[0].Digit, top3) : new Failure(name, Error);
    }

    private sealed record Prediction(string Image, int Digit, IReadOnlyList<Candidate> Top3);

    private sealed record Failure(string Image, string Error);

    private sealed record Candidate(int Digit, float Probability);
}
