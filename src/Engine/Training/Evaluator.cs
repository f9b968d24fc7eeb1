using System.Diagnostics;
using MnistGpu.Engine.Backends;
using MnistGpu.Engine.Data;
using MnistGpu.Engine.Model;
using MnistGpu.Engine.Model.Layers;
using MnistGpu.Engine.Operations.Softmax;
using MnistGpu.Engine.Steps;

namespace MnistGpu.Engine.Training;

/// <summary>
/// Runs a network forward over whole splits (uploaded once each) or over images given as
/// pixels, producing probabilities, predictions and losses.
/// </summary>
public sealed class Evaluator : IDisposable
{
    private readonly ITrainingBackend backend;
    private readonly Network network;
    private readonly IStepRunner runner;
    private readonly bool ownsRunner;
    private SoftmaxCrossEntropyOperation? loss;
    private readonly Dictionary<LabeledImages, (DeviceDataset Data, EvaluationPass Pass)> splits = [];

    /// <param name="runner">The network's step runner when its owner already has one (a trainer's), so the fused step's buffers and device tables exist once; it stays the owner's.</param>
    public Evaluator(ITrainingBackend backend, Network network, IStepRunner? runner = null)
    {
        this.backend = backend;
        this.network = network;
        ownsRunner = runner is null;
        this.runner = runner ?? StepRunners.For(network);
    }

    /// <summary>Loss, accuracy and per-sample predictions and probabilities on <paramref name="split"/>.</summary>
    public Evaluation Evaluate(LabeledImages split)
    {
        var clock = Stopwatch.StartNew();
        if (!splits.TryGetValue(split, out var resident))
        {
            DeviceDataset.Plan(new MemoryPlan(), split, network.Shape.Classes, keepProbabilities: true).RequireFits(backend);
            var dataset = new DeviceDataset(backend, split, network.Shape.Classes, keepProbabilities: true, network.Shape.Scaling);
            resident = (dataset, new EvaluationPass(network, dataset.Source, dataset.Probabilities!, dataset.Losses, dataset.Predictions));
            splits.Add(split, resident);
        }

        var (data, pass) = resident;
        int classes = network.Shape.Classes;
        var probabilities = data.Probabilities!;
        for (int start = 0; start < split.Count; start += network.BatchCapacity)
            runner.Evaluate(pass, start, Math.Min(network.BatchCapacity, split.Count - start));

        var losses = new float[split.Count];
        var predictions = new int[split.Count];
        var allProbabilities = new float[split.Count * classes];
        backend.Download(data.Losses, losses);
        backend.Download(data.Predictions, predictions);
        backend.Download(probabilities, allProbabilities);
        var outcome = Outcome.Of(losses, predictions, split.Labels, order: null, 0, split.Count);
        return new Evaluation(outcome.MeanLoss, outcome.Accuracy, predictions, allProbabilities, split.Labels, clock.Elapsed);
    }

    /// <summary>Class probabilities (N,C) for N images given as pixels in [0,1], (N,P) row-major, scaled first as the network's inputs are (<see cref="NetworkShape.Scaling"/>).</summary>
    public float[] Probabilities(ReadOnlySpan<float> pixels)
    {
        if (!network.Shape.Scaling.IsUnit)
        {
            var scaled = pixels.ToArray();
            network.Shape.Scaling.ApplyInPlace(scaled);
            pixels = scaled;
        }

        int inputs = network.Shape.Inputs, classes = network.Shape.Classes;
        int count = pixels.Length / inputs;
        var result = new float[count * classes];
        using var losses = backend.Allocate<float>(network.BatchCapacity);
        using var predictions = backend.Allocate<int>(network.BatchCapacity);
        using var probabilities = backend.Allocate<float>(network.BatchCapacity * classes);
        var labels = new int[network.BatchCapacity];
        for (int start = 0; start < count; start += network.BatchCapacity)
        {
            int batch = Math.Min(network.BatchCapacity, count - start);
            using var input = backend.Slice(network.Input, 0, batch * inputs);
            using var batchLabels = backend.Slice(network.Labels, 0, batch);
            using var batchProbabilities = backend.Slice(probabilities, 0, batch * classes);
            backend.Upload(pixels.Slice(start * inputs, batch * inputs), input);
            backend.Upload<int>(labels.AsSpan(0, batch), batchLabels);
            network.Forward(batch, StepContext.Inference);
            backend.Run(SoftmaxCrossEntropyOperation.Reuse(ref loss, backward: false, network.Logits, network.Labels, batchProbabilities, classes, new SampleOutputs(losses, predictions, 0), batch));
            backend.Download(batchProbabilities, result.AsSpan(start * classes, batch * classes));
        }

        return result;
    }

    public void Dispose()
    {
        foreach (var (data, _) in splits.Values)
            data.Dispose();
        splits.Clear();
        if (ownsRunner)
            runner.Dispose();
    }
}

/// <summary>Loss sum and correct count over a range of per-sample outputs.</summary>
internal readonly record struct Outcome(double LossSum, int Correct, int Samples)
{
    public double MeanLoss => LossSum / Samples;

    public double Accuracy => (double)Correct / Samples;

    /// <summary>Outputs [from, to) of a pass; output i belongs to split sample order[i] (or i without an order).</summary>
    public static Outcome Of(float[] losses, int[] predictions, byte[] labels, int[]? order, int from, int to)
    {
        double lossSum = 0;
        int correct = 0;
        for (int i = from; i < to; i++)
        {
            lossSum += losses[i];
            if (predictions[i] == labels[order is null ? i : order[i]])
                correct++;
        }

        return new Outcome(lossSum, correct, to - from);
    }
}
