using System.Diagnostics;
using System.Globalization;
using MnistGpu.Engine.Training;
using Spectre.Console;

namespace MnistGpu.Runner;

/// <summary>
/// How <c>train</c> shows a run: Keras-style epoch lines and, on a terminal, a live bar per epoch
/// (steps, samples/s, running loss and accuracy, time left). Redirected, or with --no-progress,
/// only the lines, so logs stay readable.
/// </summary>
internal sealed class EpochProgress(TextWriter output, bool live) : TrainingObserver
{
    /// <summary>The running loss is read back from the device at most this often.</summary>
    private static readonly TimeSpan Refresh = TimeSpan.FromMilliseconds(500);

    private bool Live => live && ReferenceEquals(output, Console.Out) && !Console.IsOutputRedirected;

    public override void EpochStarting(int epoch, int epochs, int fromStep) =>
        output.WriteLine(fromStep == 0 ? $"Epoch {epoch}/{epochs}" : $"Epoch {epoch}/{epochs} (from step {fromStep + 1})");

    public override EpochResult? RunEpoch(Trainer trainer, int epoch, Func<Action<int>?, EpochResult?> train)
    {
        if (!Live)
            return train(null);

        string title = $"Epoch {epoch}/{trainer.Settings.Epochs}";
        int steps = trainer.StepsPerEpoch;
        int firstStep = trainer.Position.StepsDoneInEpoch;
        return AnsiConsole.Progress()
            .AutoClear(true)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
            .Start(context =>
            {
                var task = context.AddTask(title, maxValue: steps);
                task.Value = firstStep;
                var clock = Stopwatch.StartNew();
                var lastRefresh = TimeSpan.Zero;
                return train(step =>
                {
                    task.Value = step;
                    if (clock.Elapsed - lastRefresh < Refresh && step < steps)
                        return;
                    lastRefresh = clock.Elapsed;
                    var (loss, accuracy) = trainer.RunningMetrics(step);
                    double samplesPerSecond = (step - firstStep) * trainer.Settings.BatchSize / clock.Elapsed.TotalSeconds;
                    task.Description = string.Create(CultureInfo.InvariantCulture, $"{title} {step}/{steps} {samplesPerSecond:N0}/s loss {loss:F4} acc {accuracy:F4}");
                });
            });
    }

    public override void EpochFinished(EpochResult result, Evaluation? test)
    {
        string line = string.Create(CultureInfo.InvariantCulture, $"{result.Steps}/{result.Steps} - {result.Duration.TotalSeconds:F1}s - loss: {result.Loss:F4} - accuracy: {result.Accuracy:F4}");
        if (result.ValidationLoss is double validationLoss && result.ValidationAccuracy is double validationAccuracy)
            line += string.Create(CultureInfo.InvariantCulture, $" - val_loss: {validationLoss:F4} - val_accuracy: {validationAccuracy:F4}");
        if (test is not null)
            line += string.Create(CultureInfo.InvariantCulture, $" - test_loss: {test.Loss:F4} - test_accuracy: {test.Accuracy:F4}");
        if (result.LearningRate is double rate)
            line += string.Create(CultureInfo.InvariantCulture, $" - learning_rate: {rate:0.####e+0}");
        output.WriteLine(line);
    }

    public override void BestRestored(BestEpoch best) => output.WriteLine(string.Create(
        CultureInfo.InvariantCulture,
        $"Early stopping: {(best.Stopped ? $"stopped after {best.EpochsWithoutImprovement} epoch{(best.EpochsWithoutImprovement == 1 ? "" : "s")} without a lower val_loss; " : "")}restored the weights of epoch {best.Epoch} (val_loss: {best.ValidationLoss:F4})"));
}
