using System.Diagnostics;
using MnistGpu.Engine.Backends;
using MnistGpu.Engine.Data;
using MnistGpu.Engine.Training;

namespace MnistGpu.Engine.Benchmarking;

/// <summary>One test evaluation of a time-to-accuracy run: after step <paramref name="Step"/> of epoch <paramref name="Epoch"/> (update <paramref name="Update"/> of the run), with <paramref name="TrainingSeconds"/> of training behind it.</summary>
public sealed record AccuracyCheck(int Epoch, int Step, long Update, double TrainingSeconds, double Accuracy);

/// <summary>
/// What <c>bench --target-accuracy</c> measures on one device: every evaluation, the first that
/// reached the target (null when none did within the run's epochs), and the time spent training
/// and, separately, evaluating. Opening the device (kernel compilation) is in neither.
/// </summary>
public sealed record TimeToAccuracyResult(
    string Device,
    double Target,
    AccuracyCheck? Reached,
    IReadOnlyList<AccuracyCheck> Checks,
    double TrainingSeconds,
    double EvaluationSeconds,
    double KernelCompileSeconds);

/// <summary>
/// Time to accuracy, the figure MNIST engines are compared by: trains until the test accuracy,
/// evaluated after every epoch and, when asked, every few updates within one, reaches a target.
/// Training stops between steps for an evaluation exactly as a stopped run does, and continues
/// where it stopped, so the steps trained are the run's own whatever the evaluations.
/// </summary>
public static class TimeToAccuracy
{
    /// <param name="open">Opens the device; timed apart from training.</param>
    /// <param name="target">The test accuracy to reach, in (0, 1].</param>
    /// <param name="evaluateEvery">Also evaluate after every this many updates within an epoch; 0: after each epoch only.</param>
    /// <param name="steps">How steps run: fused where the device can, or the plain definition (<see cref="Steps.StepOptions.Unfused"/>).</param>
    /// <param name="onCheck">Told about each evaluation as it finishes.</param>
    public static TimeToAccuracyResult Run(Func<ITrainingBackend> open, MnistData data, TrainingSettings settings, double target, int evaluateEvery, Steps.StepOptions steps, Action<AccuracyCheck>? onCheck = null)
    {
        var clock = Stopwatch.StartNew();
        using var backend = open();
        double compileSeconds = clock.Elapsed.TotalSeconds;
        using var trainer = new Trainer(backend, data.Train, settings, data.Test, steps);
        var checks = new List<AccuracyCheck>();
        TimeSpan training = TimeSpan.Zero, evaluating = TimeSpan.Zero;
        while (trainer.Position.EpochsDone < settings.Epochs)
        {
            using var pause = new CancellationTokenSource();
            clock.Restart();
            // Each pass ends with a read-back of its losses, so the device has finished its steps when the clock stops.
            trainer.TrainEpoch(pause.Token, done =>
            {
                if (evaluateEvery > 0 && trainer.OptimizerUpdates % evaluateEvery == 0 && done < trainer.StepsPerEpoch)
                    pause.Cancel();
            });
            training += clock.Elapsed;

            clock.Restart();
            var evaluation = trainer.Evaluate(data.Test);
            evaluating += clock.Elapsed;
            var at = trainer.Position;
            var check = at.StepsDoneInEpoch == 0
                ? new AccuracyCheck(at.EpochsDone, trainer.StepsPerEpoch, trainer.OptimizerUpdates, training.TotalSeconds, evaluation.Accuracy)
                : new AccuracyCheck(at.EpochsDone + 1, at.StepsDoneInEpoch, trainer.OptimizerUpdates, training.TotalSeconds, evaluation.Accuracy);
            checks.Add(check);
            onCheck?.Invoke(check);
            if (evaluation.Accuracy >= target)
                return new TimeToAccuracyResult(backend.DeviceName, target, check, checks, training.TotalSeconds, evaluating.TotalSeconds, compileSeconds);
        }

        return new TimeToAccuracyResult(backend.DeviceName, target, null, checks, training.TotalSeconds, evaluating.TotalSeconds, compileSeconds);
    }
}
