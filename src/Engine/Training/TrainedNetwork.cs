using MnistGpu.Engine.Backends;
using MnistGpu.Engine.Data;
using MnistGpu.Engine.Model;

namespace MnistGpu.Engine.Training;

/// <summary>A checkpoint's network loaded onto a device, for evaluation and prediction.</summary>
public sealed class TrainedNetwork : IDisposable
{
    private readonly Evaluator evaluator;

    public TrainedNetwork(ITrainingBackend backend, Checkpoint checkpoint)
    {
        Checkpoint = checkpoint;
        // Only evaluated: no gradients are applied, so no optimizer state is allocated.
        int batch = Math.Min(checkpoint.Settings.BatchSize, MaxBatch);
        Network.Plan(new MemoryPlan(), checkpoint.Shape, batch, optimizerStateArrays: 0).RequireFits(backend);
        Network = new Network(backend, checkpoint.Shape, batch, optimizerStateArrays: 0);
        Network.SetParameters(checkpoint.Parameters);
        Network.SetState(checkpoint.LayerState);
        evaluator = new Evaluator(backend, Network);
    }

    /// <summary>
    /// The most rows evaluated at once: the training batch up to MNIST's test set, so a network
    /// trained in batches of millions still evaluates in memory a test set needs.
    /// </summary>
    public const int MaxBatch = 10_000;

    public Checkpoint Checkpoint { get; }

    public Network Network { get; }

    /// <exception cref="UserInputException">
    /// The split's images are not the size the network takes, its labels are not all classes of
    /// the network, or the network's outputs are not finite (weights too large for float).
    /// </exception>
    public Evaluation Evaluate(LabeledImages split)
    {
        if (split.Pixels != Network.Shape.Inputs)
            throw new UserInputException($"the network takes {Network.Shape.Inputs} pixels, but the {split.Name} images have {split.Pixels} ({split.Rows}x{split.Columns})");
        int classes = Network.Shape.Classes;
        int label = split.Labels.Length == 0 ? 0 : split.Labels.Max();
        if (label >= classes)
            throw new UserInputException($"the network has {classes} classes, but the {split.Name} labels go up to {label}");
        var evaluation = evaluator.Evaluate(split);
        if (!double.IsFinite(evaluation.Loss))
            throw new UserInputException($"the network's outputs are not finite on the {split.Name} images (its weights are too large for float arithmetic)");
        return evaluation;
    }

    /// <summary>Class probabilities (N,C) of N images given as (N,P) pixels in [0,1].</summary>
    public float[] Probabilities(ReadOnlySpan<float> pixels) => evaluator.Probabilities(pixels);

    /// <summary>The first layer's output (after its ReLU, if it has one) for one image given as pixels in [0,1]: a convolution's feature maps (OH,OW,F).</summary>
    public float[] FirstLayerOutput(ReadOnlySpan<float> pixels) => FirstLayerOutput(pixels, out _);

    /// <summary>The same, with the class probabilities (C) of the same forward pass.</summary>
    public float[] FirstLayerOutput(ReadOnlySpan<float> pixels, out float[] probabilities)
    {
        probabilities = evaluator.Probabilities(pixels[..Network.Shape.Inputs]);
        var all = new float[Network.Layers[0].Output.Length];
        Network.Backend.Download(Network.Layers[0].Output, all);
        return all[..Network.Shape.Layers[0].Outputs];
    }

    public void Dispose()
    {
        evaluator.Dispose();
        Network.Dispose();
    }
}
