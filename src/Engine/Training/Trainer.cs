using System.Diagnostics;
using MnistGpu.Engine.Backends;
using MnistGpu.Engine.Data;
using MnistGpu.Engine.Model;

namespace MnistGpu.Engine.Training;

/// <summary>
/// Trains the network on a backend: per epoch one shuffled order is uploaded, then every step
/// gathers its batch on the device, runs forward, backward and RMSprop there, and writes each
/// sample's loss and prediction into device arrays that are read back once, at the epoch's end.
/// </summary>
public sealed class Trainer : IDisposable
{
    private readonly ITrainingBackend backend;
    private readonly DeviceDataset train;
    private readonly Dictionary<LabeledImages, DeviceDataset> evaluationSets = [];

    // Host copies reused every epoch, so training allocates nothing per epoch but a Random.
    private readonly int[] order;
    private readonly float[] losses;
    private readonly int[] predictions;

    public Trainer(ITrainingBackend backend, LabeledImages trainingSet, TrainingSettings settings)
    {
        settings.Validate();
        this.backend = backend;
        Settings = settings;
        var shape = new NetworkShape(trainingSet.Pixels, settings.HiddenUnits, MnistData.Classes);
        Network = new Network(backend, shape, settings.BatchSize);
        Network.SetParameters(GlorotUniform.Initialize(shape, settings.Seed));
        train = new DeviceDataset(backend, trainingSet, shape.Classes, keepProbabilities: false);
        order = new int[trainingSet.Count];
        losses = new float[trainingSet.Count];
        predictions = new int[trainingSet.Count];
    }

    public TrainingSettings Settings { get; }

    public Network Network { get; }

    /// <summary>Epochs finished so far.</summary>
    public int EpochsDone { get; private set; }

    public int StepsPerEpoch => (train.Split.Count + Settings.BatchSize - 1) / Settings.BatchSize;

    /// <param name="afterStep">Called after each step is issued, with the number of steps issued so far.</param>
    public EpochResult TrainEpoch(Action<int>? afterStep = null)
    {
        var clock = Stopwatch.StartNew();
        int epoch = EpochsDone + 1;
        int count = train.Split.Count;
        EpochOrder.Fill(order, Settings.Seed, epoch);
        backend.Upload<int>(order, train.Order);

        for (int start = 0, step = 1; start < count; start += Settings.BatchSize, step++)
        {
            int batch = Math.Min(Settings.BatchSize, count - start);
            backend.GatherBatch(train.Images, train.Labels, train.Order, start, Network.Input, Network.Labels, batch, train.Split.Pixels);
            Network.ComputeGradients(batch, train.Losses, train.Predictions, start);
            Network.ApplyRmsProp(Settings.LearningRate, Settings.Rho, Settings.Epsilon);
            afterStep?.Invoke(step);
        }

        var (loss, accuracy) = ReadOutcomes(train, order, losses, predictions);
        EpochsDone = epoch;
        return new EpochResult(epoch, StepsPerEpoch, loss, accuracy, clock.Elapsed);
    }

    /// <summary>Loss, accuracy and per-sample predictions of the current network on <paramref name="split"/>.</summary>
    public Evaluation Evaluate(LabeledImages split)
    {
        var clock = Stopwatch.StartNew();
        if (!evaluationSets.TryGetValue(split, out var data))
        {
            data = new DeviceDataset(backend, split, Network.Shape.Classes, keepProbabilities: true);
            evaluationSets.Add(split, data);
        }

        int classes = Network.Shape.Classes;
        var probabilities = data.Probabilities!;
        for (int start = 0; start < split.Count; start += Network.BatchCapacity)
        {
            int batch = Math.Min(Network.BatchCapacity, split.Count - start);
            backend.GatherBatch(data.Images, data.Labels, data.Order, start, Network.Input, Network.Labels, batch, split.Pixels);
            Network.Forward(batch);
            using var batchProbabilities = backend.Slice(probabilities, start * classes, batch * classes);
            backend.SoftmaxCrossEntropyForward(Network.Logits, Network.Labels, batchProbabilities, data.Losses, data.Predictions, start, batch, classes);
        }

        var samplePredictions = new int[split.Count];
        var (loss, accuracy) = ReadOutcomes(data, order: null, new float[split.Count], samplePredictions);
        var allProbabilities = new float[split.Count * classes];
        backend.Download(probabilities, allProbabilities);
        return new Evaluation(loss, accuracy, samplePredictions, allProbabilities, split.Labels, clock.Elapsed);
    }

    public void Dispose()
    {
        foreach (var data in evaluationSets.Values)
            data.Dispose();
        train.Dispose();
        Network.Dispose();
    }

    /// <summary>
    /// Mean loss and accuracy from the per-sample outputs, downloaded into the given host arrays;
    /// sample i of the pass is split sample order[i].
    /// </summary>
    private (double Loss, double Accuracy) ReadOutcomes(DeviceDataset data, int[]? order, float[] losses, int[] predictions)
    {
        int count = data.Split.Count;
        backend.Download(data.Losses, losses);
        backend.Download(data.Predictions, predictions);

        double lossSum = 0;
        int correct = 0;
        for (int i = 0; i < count; i++)
        {
            lossSum += losses[i];
            int sample = order is null ? i : order[i];
            if (predictions[i] == data.Split.Labels[sample])
                correct++;
        }

        return (lossSum / count, (double)correct / count);
    }
}
