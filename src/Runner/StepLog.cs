using MnistGpu.Engine.Training;

namespace MnistGpu.Runner;

/// <summary>One point of a run's loss curve within its epochs: the mean training loss and accuracy of the steps since the point before.</summary>
/// <param name="Update">The optimizer update reached, counted over the whole run.</param>
internal sealed record StepPoint(int Epoch, int Step, long Update, double Loss, double Accuracy);

/// <summary>
/// Records the training loss every <c>--log-every</c> steps for <c>--json</c>, around what
/// <paramref name="inner"/> shows: each point a read-back of the epoch's running figures (so the
/// device finishes the steps issued), turned into the mean of the steps since the last point.
/// </summary>
internal sealed class StepLog(TrainingObserver inner, int every) : TrainingObserver
{
    private readonly List<StepPoint> points = [];

    public IReadOnlyList<StepPoint> Points => points;

    public override void EpochStarting(int epoch, int epochs, int fromStep) => inner.EpochStarting(epoch, epochs, fromStep);

    public override EpochResult? RunEpoch(Trainer trainer, int epoch, Func<Action<int>?, EpochResult?> train)
    {
        // The running figures cover the epoch from its first step, a resumed one's included.
        var before = (Samples: 0L, LossSum: 0.0, Correct: 0.0);
        return inner.RunEpoch(trainer, epoch, onStep => train(step =>
        {
            onStep?.Invoke(step);
            if (step % every != 0 && step != trainer.StepsPerEpoch)
                return;
            var (loss, accuracy) = trainer.RunningMetrics(step);
            long samples = Math.Min((long)step * trainer.Settings.BatchSize, trainer.TrainingSamples);
            var now = (Samples: samples, LossSum: loss * samples, Correct: accuracy * samples);
            long window = now.Samples - before.Samples;
            if (window > 0)
                points.Add(new StepPoint(epoch, step, trainer.OptimizerUpdates, (now.LossSum - before.LossSum) / window, (now.Correct - before.Correct) / window));
            before = now;
        }));
    }

    public override void EpochFinished(EpochResult result, Evaluation? test) => inner.EpochFinished(result, test);

    public override void BestRestored(BestEpoch best) => inner.BestRestored(best);

    /// <summary>The default: a few dozen points an epoch.</summary>
    public static int DefaultEvery(int stepsPerEpoch) => Math.Max(1, stepsPerEpoch / 32);
}
