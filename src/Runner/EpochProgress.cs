using System.Diagnostics;
using System.Globalization;
using MnistGpu.Engine.Training;
using Spectre.Console;

namespace MnistGpu.Runner;

/// <summary>
/// How an epoch's progress is shown: a live bar (steps, samples/s, running loss and accuracy,
/// time left) on a terminal; nothing until the Keras-style epoch line when the output is a file or
/// pipe, or when --no-progress is given, so logs stay readable.
/// </summary>
internal sealed class EpochProgress(TextWriter output, bool enabled)
{
    /// <summary>The running loss is read back from the device at most this often.</summary>
    private static readonly TimeSpan Refresh = TimeSpan.FromMilliseconds(500);

    private bool Live => enabled && ReferenceEquals(output, Console.Out) && !Console.IsOutputRedirected;

    /// <summary>Runs <paramref name="train"/>, which reports each step it finishes to the callback it is given.</summary>
    public EpochResult? Run(Trainer trainer, string title, Func<Action<int>?, EpochResult?> train)
    {
        if (!Live)
            return train(null);

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
}
