using System.Diagnostics;
using MnistGpu.Engine.Training;
using MnistGpu.Runner;
using MnistGpu.Tests.Support;

namespace MnistGpu.Tests.Runner;

/// <summary>Stopping a training run by signal or by divergence loses nothing that was done.</summary>
public sealed class InterruptionTests : IDisposable
{
    private readonly TempDirectory data = IdxWriter.MnistSubset(trainCount: 2_000, testCount: 100);

    public void Dispose() => data.Dispose();

    [Trait(Category.Name, Category.Slow)]
    [Theory]
    [InlineData("INT", 130)]
    [InlineData("TERM", 143)]
    public void A_signal_finishes_the_step_writes_a_resumable_checkpoint_and_exits(string signal, int exitCode)
    {
        string checkpoint = data.File($"{signal}.ckpt");
        using var process = RunnerProcess.Start("train", "--device", "cpu", "--data", data.Path, "--hidden", "32", "--epochs", "1000", "--save", checkpoint);
        string? line;
        while ((line = process.StandardOutput.ReadLine()) is not null && !line.StartsWith("Epoch 2/", StringComparison.Ordinal))
        {
        }

        Assert.NotNull(line);
        RunnerProcess.Signal(process, signal);
        process.StandardOutput.ReadToEnd();
        string rest = process.StandardError.ReadToEnd();
        Assert.True(RunnerProcess.ExitsWithin(process, 60_000), "the runner did not stop");

        Assert.Equal(exitCode, process.ExitCode);
        Assert.Matches($@"Interrupted: (epoch \d+, \d+ of 16 steps done|\d+ epochs? done); checkpoint written to {System.Text.RegularExpressions.Regex.Escape(checkpoint)}", rest);
        var position = Checkpoint.Load(checkpoint).Position;
        Assert.True(position.EpochsDone >= 1, $"position {position}");

        var (code, output, error) = CliRun.Run(["train", "--device", "cpu", "--data", data.Path, "--resume", checkpoint, "--epochs", (position.EpochsDone + 1).ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        Assert.Equal("", error);
        Assert.Equal(0, code);
        Assert.Contains("Test loss: ", output);
    }

    [Fact]
    public void A_diverging_run_stops_with_one_line_and_keeps_the_last_good_checkpoint()
    {
        string checkpoint = SmallModel.WriteTo(data, "good.ckpt");
        var before = File.ReadAllBytes(checkpoint);

        var (code, output, error) = CliRun.Run(["train", "--device", "cpu", "--data", data.Path, "--learning-rate", "1e30", "--save", checkpoint]);

        Assert.Equal(1, code);
        Assert.Single(error.TrimEnd().Split('\n'));
        Assert.Contains("mnistgpu: training diverged: the loss became ", error);
        Assert.Contains(" in epoch 1, steps 1-16", error);
        Assert.DoesNotContain("Test loss", output);
        Assert.Equal(before, File.ReadAllBytes(checkpoint));
    }
}
