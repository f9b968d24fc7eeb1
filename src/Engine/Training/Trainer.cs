using System.Diagnostics;
using MnistGpu.Engine.Backends;
using MnistGpu.Engine.Data;
using MnistGpu.Engine.Model;
using MnistGpu.Engine.Model.Layers;
using MnistGpu.Engine.Steps;

namespace MnistGpu.Engine.Training;

/// <summary>
/// Trains the network on a backend: per epoch one shuffled order is uploaded, then every step
/// gathers its batch on the device, runs forward, backward and the optimizer there, and writes each
/// sample's loss and prediction into device arrays that are read back once, at the epoch's end
/// (or when training is interrupted). A trainer starts from fresh Glorot weights or from a
/// checkpoint, and continues exactly where the checkpoint stopped, mid-epoch included.
/// </summary>
public sealed class Trainer : IDisposable
{
    private readonly ITrainingBackend backend;
    private readonly DeviceDataset train;
    private readonly Evaluator evaluator;
    private readonly TrainingStep step;
    private readonly IStepRunner runner;
    private readonly List<EpochResult> history = [];
    private int epochFirstStep;

    // Host copies reused every epoch, so training allocates nothing per epoch but a Random.
    private readonly int[] order;
    private readonly float[] losses;
    private readonly int[] predictions;

    /// <summary>A new run: weights and biases drawn as <see cref="TrainingSettings.Initializer"/> says (Glorot-uniform, zero biases, by default) from <see cref="TrainingSettings.Seed"/>.</summary>
    /// <param name="evaluationSet">The split that will be evaluated, when known: its device copy is counted when checking that the run fits the device.</param>
    /// <exception cref="UserInputException">A setting is invalid, or the network is too large to exist.</exception>
    /// <param name="steps">How the steps run: fused (the default) or as the plain definition.</param>
    /// <exception cref="EngineException">The network and data do not fit the device's memory.</exception>
    public Trainer(ITrainingBackend backend, LabeledImages trainingSet, TrainingSettings settings, LabeledImages? evaluationSet = null, StepOptions? steps = null)
        : this(backend, trainingSet, settings, ShapeFor(trainingSet, settings), evaluationSet, resuming: false, steps ?? StepOptions.Fused)
    {
        UploadInitialWeights(Network, settings);
        ReleaseHostMemory(backend, Network.Shape);
    }

    /// <summary>
    /// Continues <paramref name="checkpoint"/> on <paramref name="trainingSet"/>, which must be the
    /// data it was trained on; <paramref name="epochs"/> sets the total number of epochs.
    /// </summary>
    /// <exception cref="UserInputException">The checkpoint does not fit this data.</exception>
    /// <exception cref="EngineException">The network and data do not fit the device's memory.</exception>
    public Trainer(ITrainingBackend backend, LabeledImages trainingSet, Checkpoint checkpoint, int epochs, LabeledImages? evaluationSet = null)
        : this(backend, trainingSet, checkpoint.Settings with { Epochs = epochs }, Fit(checkpoint, trainingSet), evaluationSet, resuming: true, StepOptions.Fused)
    {
        Network.SetParameters(checkpoint.Parameters);
        Network.SetOptimizerState(checkpoint.OptimizerState);
        Network.SetState(checkpoint.LayerState);
        OptimizerUpdates = checkpoint.OptimizerUpdates;
        Position = checkpoint.Position;
        history.AddRange(checkpoint.History);
    }

    private Trainer(ITrainingBackend backend, LabeledImages trainingSet, TrainingSettings settings, NetworkShape shape, LabeledImages? evaluationSet, bool resuming, StepOptions steps)
    {
        settings.Validate();
        // No step or evaluation batch is larger than the larger split: a batch size beyond it
        // (--batch-size 2000000 on 128 images) must not size the device's arrays.
        int batchCapacity = Math.Min(settings.BatchSize, Math.Max(trainingSet.Count, evaluationSet?.Count ?? 0));
        var plan = Network.Plan(new MemoryPlan(), shape, batchCapacity, settings.Optimizer.StateArrays);
        // Where the device's memory is the host's, the host's copies of the parameters count too:
        // the initial weights, or the resumed checkpoint, which its caller holds through the run;
        // and a checkpoint's copies when one is made.
        if (backend.Memory.SharesHostMemory)
            plan.Add<float>("host copies", "the checkpoint's parameters and optimizer state", shape.ParameterCount, count: (resuming ? 2 : 1) * (1 + settings.Optimizer.StateArrays));
        DeviceDataset.Plan(plan, trainingSet, shape.Classes, keepProbabilities: false);
        if (evaluationSet is not null)
            DeviceDataset.Plan(plan, evaluationSet, shape.Classes, keepProbabilities: true);
        plan.RequireFits(backend);
        this.backend = backend;
        Settings = settings;
        Network = new Network(backend, shape, batchCapacity, settings.Optimizer.StateArrays, steps.Convolutions);
        train = new DeviceDataset(backend, trainingSet, shape.Classes, keepProbabilities: false, shape.Scaling);
        step = new TrainingStep(Network, train.Source, train.Losses, train.Predictions, settings.Optimizer);
        runner = StepRunners.For(Network, steps.Form);
        evaluator = new Evaluator(backend, Network, runner);
        order = new int[trainingSet.Count];
        losses = new float[trainingSet.Count];
        predictions = new int[trainingSet.Count];
    }

    public TrainingSettings Settings { get; }

    /// <summary>The network a new run with <paramref name="settings"/> trains on <paramref name="trainingSet"/>, its input scaling taken from that set when it standardises.</summary>
    /// <exception cref="UserInputException">A layer spec does not fit, or --standardize meets a set whose pixels do not vary.</exception>
    public static NetworkShape ShapeFor(LabeledImages trainingSet, TrainingSettings settings) =>
        new(trainingSet.Pixels, settings.Layers, MnistData.Classes)
        {
            Scaling = settings.Standardize ? InputScaling.Standardizing(trainingSet) : InputScaling.Unit,
        };

    public Network Network { get; }

    /// <summary>Optimizer updates applied so far, across resumes: Adam's bias correction counts them.</summary>
    public long OptimizerUpdates { get; private set; }

    /// <summary>Where training stands: epochs done and steps into the next one.</summary>
    public TrainingPosition Position { get; private set; } = TrainingPosition.Start;

    /// <summary>Every finished epoch, across resumes.</summary>
    public IReadOnlyList<EpochResult> History => history;

    public int StepsPerEpoch => Steps(train.Split.Count, Settings.BatchSize);

    /// <summary>Images an epoch trains on.</summary>
    public int TrainingSamples => train.Split.Count;

    /// <summary>Steps of an epoch: full batches and a last, smaller one; counted in 64 bits, so a batch size near its maximum cannot wrap to 0 steps.</summary>
    private static int Steps(int samples, int batchSize) => (int)((samples + (long)batchSize - 1) / batchSize);

    /// <summary>Trains the rest of the current epoch.</summary>
    /// <param name="afterStep">Called after each step is issued, with the number of steps of this epoch issued so far.</param>
    /// <exception cref="EngineException">The loss became NaN or infinite.</exception>
    public EpochResult TrainEpoch(Action<int>? afterStep = null) => TrainEpoch(CancellationToken.None, afterStep)!;

    /// <summary>
    /// Trains the rest of the current epoch, checking <paramref name="stop"/> between steps: when
    /// stop is requested it finishes the step under way, records the position and returns null.
    /// </summary>
    /// <param name="afterStep">Called after each step is issued, with the number of steps of this epoch issued so far.</param>
    /// <exception cref="EngineException">The loss became NaN or infinite.</exception>
    public EpochResult? TrainEpoch(CancellationToken stop, Action<int>? afterStep = null)
    {
        var clock = Stopwatch.StartNew();
        int epoch = Position.EpochsDone + 1;
        int firstStep = epochFirstStep = Position.StepsDoneInEpoch;
        int count = train.Split.Count;
        EpochOrder.Fill(order, Settings.Seed, epoch);
        backend.Upload<int>(order, train.Order);

        int done = firstStep;
        while (done < StepsPerEpoch && !stop.IsCancellationRequested)
        {
            int start = done * Settings.BatchSize;
            ++OptimizerUpdates;
            step.Update = Settings.Optimizer.ForUpdate(OptimizerUpdates, Settings.LearningRateAt(OptimizerUpdates, StepsPerEpoch));
            step.Context = StepContext.ForTraining(OptimizerUpdates, Settings.Seed);
            runner.Train(step, start, Math.Min(Settings.BatchSize, count - start));
            done++;
            afterStep?.Invoke(done);
        }

        var outcome = ReadOutcome(firstStep, done, epoch);
        double lossSum = Position.PartialLossSum + outcome.LossSum;
        int correct = Position.PartialCorrect + outcome.Correct;
        if (done < StepsPerEpoch)
        {
            Position = new TrainingPosition(epoch - 1, done, lossSum, correct);
            return null;
        }

        Position = new TrainingPosition(epoch, 0, 0, 0);
        var result = new EpochResult(epoch, StepsPerEpoch, lossSum / count, (double)correct / count, clock.Elapsed)
        {
            LearningRate = Settings.Schedule.Varies ? Settings.LearningRateAt(OptimizerUpdates, StepsPerEpoch) : null,
        };
        history.Add(result);
        return result;
    }

    /// <summary>
    /// Mean loss and accuracy of the epoch under way over its first <paramref name="stepsDone"/>
    /// steps: a readback of the per-sample outputs (waiting for the device), so call it for
    /// progress reports, not every step.
    /// </summary>
    /// <exception cref="EngineException">The loss became NaN or infinite.</exception>
    public (double Loss, double Accuracy) RunningMetrics(int stepsDone)
    {
        int epoch = Position.EpochsDone + 1;
        var outcome = ReadOutcome(epochFirstStep, stepsDone, epoch);
        int samples = Math.Min(stepsDone * Settings.BatchSize, train.Split.Count);
        return samples == 0
            ? (double.NaN, double.NaN)
            : ((Position.PartialLossSum + outcome.LossSum) / samples, (double)(Position.PartialCorrect + outcome.Correct) / samples);
    }

    /// <summary>Evaluates <paramref name="split"/> and records its loss and accuracy with the last finished epoch.</summary>
    public Evaluation EvaluateAfterEpoch(LabeledImages split)
    {
        var evaluation = Evaluate(split);
        if (history.Count > 0)
            history[^1] = history[^1] with { TestLoss = evaluation.Loss, TestAccuracy = evaluation.Accuracy };
        return evaluation;
    }

    /// <summary>Evaluates the validation set and records its loss and accuracy with the last finished epoch.</summary>
    public Evaluation ValidateAfterEpoch(LabeledImages validation)
    {
        var evaluation = Evaluate(validation);
        if (history.Count > 0)
            history[^1] = history[^1] with { ValidationLoss = evaluation.Loss, ValidationAccuracy = evaluation.Accuracy };
        return evaluation;
    }

    /// <summary>Loss, accuracy and per-sample predictions of the current network on <paramref name="split"/>.</summary>
    public Evaluation Evaluate(LabeledImages split) => evaluator.Evaluate(split);

    /// <summary>Everything needed to continue from here, or to use the network.</summary>
    public Checkpoint CreateCheckpoint() => new(
        Network.Shape, Settings, Position, history.ToList(), train.Split.ContentHash, Network.GetParameters(), Network.GetOptimizerState(), OptimizerUpdates)
    {
        LayerState = Network.GetState(),
    };

    public void Dispose()
    {
        evaluator.Dispose();
        runner.Dispose();
        train.Dispose();
        Network.Dispose();
    }

    /// <summary>Reads back the per-sample outputs of steps [fromStep, toStep) and checks the loss is finite.</summary>
    private Outcome ReadOutcome(int fromStep, int toStep, int epoch)
    {
        int from = Math.Min(fromStep * Settings.BatchSize, train.Split.Count);
        int to = Math.Min(toStep * Settings.BatchSize, train.Split.Count);
        if (to == from)
            return default;
        // Only the outputs of these steps come back, not the whole epoch's arrays.
        using (var lossRange = backend.Slice(train.Losses, from, to - from))
            backend.Download(lossRange, losses.AsSpan(from, to - from));
        using (var predictionRange = backend.Slice(train.Predictions, from, to - from))
            backend.Download(predictionRange, predictions.AsSpan(from, to - from));
        var outcome = Outcome.Of(losses, predictions, train.Split.Labels, order, from, to);
        if (!double.IsFinite(outcome.LossSum))
            throw new TrainingDivergedException($"training diverged: the loss became {outcome.MeanLoss} in epoch {epoch}, steps {fromStep + 1}-{toStep}");
        return outcome;
    }

    /// <summary>In a method of its own, so that the host copy of the weights is unreachable once it returns.</summary>
    private static void UploadInitialWeights(Network network, TrainingSettings settings) =>
        network.SetParameters(InitialWeights.Of(network.Shape, settings.Seed, settings.Initializer));

    /// <summary>
    /// On a device that shares the host's memory, collects the large arrays no longer used — the
    /// initial weights just uploaded, the network of a finished run — now, so that they are gone
    /// before the next large allocation as the memory plan assumes, rather than whenever the
    /// collector would come to them.
    /// </summary>
    internal static void ReleaseHostMemory(ITrainingBackend backend, NetworkShape shape)
    {
        if (backend.Memory.SharesHostMemory && 4L * shape.ParameterCount >= LargeHostCopyBytes)
            GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
    }

    private const long LargeHostCopyBytes = 64L << 20;

    /// <summary>The checkpoint's network, once it is known to continue on this data: checked before anything is allocated.</summary>
    private static NetworkShape Fit(Checkpoint checkpoint, LabeledImages trainingSet)
    {
        if (checkpoint.Shape.Inputs != trainingSet.Pixels || checkpoint.Shape.Classes != MnistData.Classes)
            throw new UserInputException($"the checkpoint's network takes {checkpoint.Shape.Inputs} pixels and {checkpoint.Shape.Classes} classes; the data has {trainingSet.Pixels} pixels and {MnistData.Classes} classes");
        if (checkpoint.DataHash != trainingSet.ContentHash)
            throw new UserInputException($"the checkpoint was trained on other data (SHA-256 {Short(checkpoint.DataHash)}, this training set is {Short(trainingSet.ContentHash)})");
        int steps = Steps(trainingSet.Count, checkpoint.Settings.BatchSize);
        if (checkpoint.Position.StepsDoneInEpoch >= steps)
            throw new UserInputException($"the checkpoint is at step {checkpoint.Position.StepsDoneInEpoch}, but an epoch has {steps} steps");
        return checkpoint.Shape;
    }

    private static string Short(string hash) => hash.Length > 12 ? hash[..12] : hash;
}
