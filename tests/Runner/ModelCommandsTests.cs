using System.Diagnostics;
using System.Text.Json;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using MnistGpu.Engine.Backends;
using MnistGpu.Engine.Training;
using MnistGpu.Runner;
using MnistGpu.Tests.Support;

namespace MnistGpu.Tests.Runner;

/// <summary>evaluate, predict and export on a small trained checkpoint.</summary>
public sealed class ModelCommandsTests : IDisposable
{
    private readonly TempDirectory folder = new();
    private readonly string model;

    public ModelCommandsTests() => model = SmallModel.WriteTo(folder);

    public void Dispose() => folder.Dispose();

    [Trait(Category.Name, Category.Slow)]
    [Fact]
    public void Evaluate_prints_loss_accuracy_and_every_class()
    {
        var (code, output, error) = CliRun.Run(["evaluate", "--model", model, "--device", "cpu"]);
        Assert.Equal("", error);
        Assert.Equal(0, code);
        Assert.Matches(@"Test loss: \d\.\d{4} - test accuracy: 0\.\d{4} \(\d+/10000\)", output);
        // The published test-set class counts, each on its own row.
        foreach (var (digit, count) in new[] { (0, 980), (1, 1135), (5, 892), (9, 1009) })
            Assert.Matches($@"\n\s+{digit}\s+{count}\s+\d+\s+\d+\.\d\d %", output);
    }

    [Fact]
    public void Predict_reads_digits_drawn_either_way_round()
    {
        // Test samples 0, 1, 2 are a 7, a 2 and a 1, and the small model gets them right.
        string seven = DigitPictures.LightOnDark(folder, 0, "seven.png");
        string two = DigitPictures.DarkOnLight(folder, 1, "two-on-paper.jpg");
        string one = DigitPictures.DarkOnLight(folder, 2, "one-on-paper.bmp");

        var (code, output, error) = CliRun.Run(["predict", "--model", model, "--device", "cpu", "--json", seven, two, one]);

        Assert.Equal("", error);
        Assert.Equal(0, code);
        using var document = JsonDocument.Parse(output);
        var digits = document.RootElement.EnumerateArray().Select(p => p.GetProperty("digit").GetInt32()).ToList();
        Assert.Equal([7, 2, 1], digits);
        foreach (var prediction in document.RootElement.EnumerateArray())
        {
            var top3 = prediction.GetProperty("top3").EnumerateArray().Select(c => c.GetProperty("probability").GetDouble()).ToList();
            Assert.Equal(3, top3.Count);
            Assert.Equal(top3.OrderByDescending(p => p), top3);
        }
    }

    [Fact]
    public async Task Predict_prints_one_line_per_picture_on_stdout_and_nothing_else()
    {
        string seven = DigitPictures.LightOnDark(folder, 0, "seven.png");
        string two = DigitPictures.DarkOnLight(folder, 1, "two.png");

        // The program itself, with its real stdout and stderr, as `predict ... | cut -d: -f2` sees it.
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string arg in new[] { typeof(Cli).Assembly.Location, "predict", "--model", model, "--device", "host", seven, two })
            start.ArgumentList.Add(arg);
        using var process = Process.Start(start)!;
        var error = process.StandardError.ReadToEndAsync();
        string output = await process.StandardOutput.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        await process.WaitForExitAsync(timeout.Token);

        Assert.Equal(0, process.ExitCode);
        Assert.Equal([$"{seven}: 7", $"{two}: 2"], output.TrimEnd().Split('\n').Select(line => line[..line.IndexOf(" (", StringComparison.Ordinal)]));
        Assert.StartsWith("Device: host:0", await error);
    }

    [Fact]
    public void A_deeper_adam_checkpoint_evaluates_predicts_and_reports()
    {
        string deeper = folder.File("deeper.ckpt");
        SmallModel.Deeper.Save(deeper);
        string seven = DigitPictures.LightOnDark(folder, 0, "seven.png");

        var evaluate = CliRun.Run(["evaluate", "--model", deeper, "--device", "host"]);
        Assert.Equal(("", 0), (evaluate.Error, evaluate.Code));
        Assert.StartsWith("Test loss: ", evaluate.Output);
        Assert.Contains("Model: 784-64-32-16-10 after 1 epoch", evaluate.Diagnostics);
        var predict = CliRun.Run(["predict", "--model", deeper, "--device", "cpu", seven]);
        Assert.Equal(("", 0), (predict.Error, predict.Code));
        Assert.StartsWith($"{seven}: ", predict.Output);
        var report = CliRun.Run(["report", "--model", deeper, "--device", "host", "--previews", folder.File("report")]);
        Assert.Equal(("", 0), (report.Error, report.Code));
        Assert.Contains("<td>Adam (lr 0.001, beta1 0.9, beta2 0.999, epsilon 1e-7)</td>", File.ReadAllText(Path.Combine(folder.File("report"), "report.html")));
    }

    [Fact]
    public void A_convnet_checkpoint_evaluates_predicts_and_reports_its_first_layer()
    {
        string convnet = folder.File("convnet.ckpt");
        SmallModel.Convnet.Save(convnet);
        string seven = DigitPictures.LightOnDark(folder, 0, "seven.png");

        var evaluate = CliRun.Run(["evaluate", "--model", convnet, "--device", "cpu"]);
        Assert.Equal(("", 0), (evaluate.Error, evaluate.Code));
        Assert.Contains("Model: 784-conv3x3:8-maxpool-conv2x2:8:same-conv3x3:6:linear-maxpool-flatten-32-10 after 1 epoch", evaluate.Diagnostics);
        var predict = CliRun.Run(["predict", "--model", convnet, "--device", "host", seven]);
        Assert.Equal(("", 0), (predict.Error, predict.Code));
        Assert.StartsWith($"{seven}: 7", predict.Output);

        string previews = folder.File("convnet-report");
        var report = CliRun.Run(["report", "--model", convnet, "--device", "host", "--previews", previews]);
        Assert.Equal(("", 0), (report.Error, report.Code));
        using (var kernels = SixLabors.ImageSharp.Image.Load(Path.Combine(previews, "first-layer-kernels.png")))
            Assert.Equal((6 + 8 * (3 * 14 + 6), 6 + 1 * (3 * 14 + 6)), (kernels.Width, kernels.Height));
        Assert.True(File.Exists(Path.Combine(previews, "first-layer-feature-maps.png")));
        string html = File.ReadAllText(Path.Combine(previews, "report.html"));
        Assert.Contains("The 8 3x3 kernels of conv3x3:8", html);
        Assert.Contains("id=\"first-layer-feature-maps\"", html);

        // The same folder reused for a dense network: the convnet's pictures do not stay behind.
        report = CliRun.Run(["report", "--model", model, "--device", "host", "--previews", previews]);
        Assert.Equal(("", 0), (report.Error, report.Code));
        Assert.False(File.Exists(Path.Combine(previews, "first-layer-kernels.png")));
        Assert.DoesNotContain("First layer", File.ReadAllText(Path.Combine(previews, "report.html")));
    }

    [Fact]
    public void Train_previews_of_a_convnet_draw_its_first_layer_as_report_does()
    {
        using var data = IdxWriter.MnistSubset(trainCount: 256, testCount: 100);
        string previews = folder.File("train-previews");
        var run = CliRun.Run(["train", "--device", "host", "--epochs", "1", "--data", data.Path, "--layers", "conv5x5:6,maxpool,flatten,16", "--previews", previews, "--no-progress"]);
        Assert.Equal(("", 0), (run.Error, run.Code));
        using (var kernels = SixLabors.ImageSharp.Image.Load(Path.Combine(previews, "first-layer-kernels.png")))
            Assert.Equal((6 + 6 * (5 * 14 + 6), 6 + 1 * (5 * 14 + 6)), (kernels.Width, kernels.Height));
        Assert.Contains("The 6 5x5 kernels of conv5x5:6", File.ReadAllText(Path.Combine(previews, "report.html")));
    }

    [SkippableFact]
    public async Task Train_previews_rewrite_the_report_after_every_epoch()
    {
        Skip.If(Posix.NoFifos is not null, Posix.NoFifos);
        using var data = IdxWriter.MnistSubset(trainCount: 256, testCount: 100);
        string previews = folder.File("live");
        // The summary goes to a FIFO nobody reads yet: the run waits there, after its last epoch and
        // before its final report, so a report.html that exists then was written epoch by epoch.
        string fifo = Posix.MakeFifo(folder.File("summary.json"));
        using var process = RunnerProcess.Start("train", "--device", "host", "--epochs", "2", "--data", data.Path, "--layers", "16", "--validation-split", "0.25", "--previews", previews, "--no-progress", "--json", fifo);
        string? line;
        while ((line = await process.StandardOutput.ReadLineAsync()) is not null && !line.StartsWith("Test loss", StringComparison.Ordinal))
        {
        }

        Assert.NotNull(line);
        string html = await File.ReadAllTextAsync(Path.Combine(previews, "report.html"));
        Assert.Contains("<th>validation loss</th>", html, StringComparison.Ordinal);
        Assert.Matches(@"<tr><td>2</td><td>[\d.]+ s</td>", html);
        Assert.False(process.HasExited);

        await using (var reader = new FileStream(fifo, FileMode.Open, FileAccess.Read))
            await reader.CopyToAsync(Stream.Null);
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.True(process.ExitCode == 0, await error);
    }

    [Theory]
    [InlineData("dense", "Gemm -> Relu -> Gemm")]
    [InlineData("deeper", "Gemm -> Relu -> Gemm -> Relu -> Gemm -> Relu -> Gemm")]
    [InlineData("dropout", "Gemm -> Relu -> Identity -> Gemm -> Relu -> Identity -> Gemm")]
    [InlineData("keras-convnet", "Reshape -> Transpose -> Conv -> Relu -> MaxPool -> Conv -> Relu -> MaxPool -> Transpose -> Flatten -> Identity -> Gemm")]
    [InlineData("bn-convnet", "Reshape -> Transpose -> Conv -> BatchNormalization -> Relu -> Conv -> BatchNormalization -> Relu -> MaxPool -> Conv -> BatchNormalization -> Relu -> Conv -> BatchNormalization -> Relu -> MaxPool -> Transpose -> Flatten -> Gemm -> Relu -> Identity -> Gemm")]
    [InlineData("batchnorm", "Reshape -> Transpose -> Conv -> BatchNormalization -> Relu -> MaxPool -> Transpose -> Flatten -> Gemm -> Relu -> BatchNormalization -> Gemm")]
    [InlineData("convnet", "Reshape -> Transpose -> Conv -> Relu -> MaxPool -> Conv -> Relu -> Conv -> MaxPool -> Transpose -> Flatten -> Gemm -> Relu -> Gemm")]
    [InlineData("speedrun", "Sub -> Mul -> Reshape -> Transpose -> Conv -> Relu -> MaxPool -> Conv -> Relu -> MaxPool -> Transpose -> Flatten -> Gemm -> Relu -> Gemm")]
    public void Export_writes_an_onnx_model_that_onnx_runtime_runs_to_the_same_answers(string kind, string operators)
    {
        var checkpoint = kind switch { "deeper" => SmallModel.Deeper, "convnet" => SmallModel.Convnet, "dropout" => SmallModel.WithDropout, "batchnorm" => SmallModel.WithBatchNorm, "keras-convnet" or "bn-convnet" or "speedrun" => SmallModel.Preset(kind), _ => SmallModel.Checkpoint };
        string path = kind == "dense" ? model : folder.File($"{kind}.ckpt");
        if (kind != "dense")
            checkpoint.Save(path);
        string onnx = folder.File("m.onnx");
        var run = CliRun.Run(["export", "--model", path, "--onnx", onnx]);
        Assert.Equal("", run.Error);
        Assert.Equal(0, run.Code);
        Assert.Contains($"[0,1] -> {operators} -> Softmax -> 'probabilities'", run.Diagnostics);

        const int count = 1_000;
        var test = Bundled.Mnist.Test.Take(count);
        var pixels = test.Images.Select(p => p / 255f).ToArray();
        float[] engine;
        double engineAccuracy;
        // The presets' convolutions at full size run on the host: the CPU accelerator takes tens of seconds for them.
        using (ITrainingBackend device = kind.EndsWith("-convnet", StringComparison.Ordinal) || kind == "speedrun" ? new MnistGpu.Engine.Backends.Host.HostBackend() : IlgpuBackend.CreateCpuAccelerator())
        using (var network = new TrainedNetwork(device, checkpoint))
        {
            engine = network.Probabilities(pixels);
            engineAccuracy = network.Evaluate(test).Accuracy;
        }

        using var session = new InferenceSession(onnx);
        using var results = session.Run([NamedOnnxValue.CreateFromTensor("input", new DenseTensor<float>(pixels, [count, 784]))]);
        var runtime = results.Single(r => r.Name == "probabilities").AsTensor<float>().ToArray();

        Assert.Equal(engine.Length, runtime.Length);
        for (int i = 0; i < engine.Length; i++)
            Assert.True(Math.Abs(engine[i] - runtime[i]) <= 1e-5, $"probability {i}: engine {engine[i]}, ONNX Runtime {runtime[i]}");
        int runtimeCorrect = Enumerable.Range(0, count).Count(n => ArgMax(runtime.AsSpan(n * 10, 10)) == test.Labels[n]);
        Assert.Equal(engineAccuracy, runtimeCorrect / (double)count);
    }

    [Fact]
    public void Bad_pictures_each_get_one_line_naming_the_file_and_exit_2()
    {
        string text = folder.File("notes.png");
        File.WriteAllText(text, "this is not a picture");
        string empty = folder.File("empty.png");
        File.WriteAllBytes(empty, []);
        string huge = DigitPictures.Sized(folder, 4097, 8, "wide.png");
        string blank = DigitPictures.Blank(folder, "blank.gif");
        string missing = folder.File("missing.png");

        foreach (var (path, expected) in new[]
        {
            (text, "not an image (PNG, JPEG, BMP or GIF expected)"),
            (empty, "the file is empty"),
            (huge, "the image is 4097x8; the limit is 4096x4096"),
            (blank, "no digit found (the image is blank)"),
            (missing, "no such file"),
        })
        {
            var (code, _, error) = CliRun.Run(["predict", "--model", model, "--device", "cpu", path]);
            Assert.Equal(2, code);
            Assert.Single(error.TrimEnd().Split('\n'));
            Assert.Contains($"{path}: {expected}", error);
        }
    }

    [Fact]
    public void Bad_checkpoints_each_get_one_line_and_exit_2()
    {
        string truncated = folder.File("truncated.ckpt");
        File.WriteAllBytes(truncated, SmallModel.Bytes[..1000]);
        foreach (string[]? args in new[]
        {
            new[] { "evaluate", "--model", truncated },
            ["predict", "--model", truncated, DigitPictures.LightOnDark(folder, 0, "any.png")],
            ["export", "--model", truncated, "--onnx", folder.File("x.onnx")],
            ["train", "--resume", truncated],
            ["evaluate", "--model", folder.File("absent.ckpt")],
        })
        {
            var (code, _, error) = CliRun.Run(args);
            Assert.Equal(2, code);
            Assert.Single(error.TrimEnd().Split('\n'));
            Assert.Contains(".ckpt", error);
        }
    }

    private static int ArgMax(ReadOnlySpan<float> values) => values.IndexOf(System.Linq.Enumerable.Max(values.ToArray()));
}
