using MnistGpu.Engine;
using MnistGpu.Engine.Model;
using MnistGpu.Engine.Training;

namespace MnistGpu.Server;

/// <summary>One of the top answers: a digit and its probability, as <c>predict --json</c> writes it.</summary>
public sealed record Candidate(int Digit, float Probability);

/// <summary>
/// The answer to one picture: <c>predict --json</c>'s element (<see cref="Digit"/>,
/// <see cref="Top3"/>), every class's probability, and the 784 values the network took.
/// </summary>
public sealed record Prediction(int Digit, IReadOnlyList<Candidate> Top3, float[] Probabilities, float[] Input);

/// <summary>What the page says about the network: its layers, how it was trained, how well it does.</summary>
/// <param name="Summary">The layers as Keras' model.summary() shows them (<c>mnistgpu summary</c>'s table).</param>
/// <param name="Totals">The lines under that table: total, trainable and non-trainable parameters.</param>
public sealed record ModelDescription(
    string Network,
    IReadOnlyList<string> Layers,
    IReadOnlyList<LayerSummary> Summary,
    IReadOnlyList<string> Totals,
    long Parameters,
    string Optimizer,
    int BatchSize,
    int EpochsTrained,
    double? TestAccuracy,
    string Device,
    string Explains);

/// <summary>
/// The checkpoint a server answers with, on its device: loaded once and never written. The
/// device runs one evaluation at a time; callers queue for it (the server bounds how many).
/// </summary>
public sealed class ServedModel : IDisposable
{
    private readonly TrainedNetwork network;
    private readonly Lock device = new();

    public ServedModel(TrainedNetwork network, string deviceName)
    {
        this.network = network;
        var checkpoint = network.Checkpoint;
        var shape = checkpoint.Shape;
        var tested = checkpoint.History.LastOrDefault(epoch => epoch.TestAccuracy is not null);
        var summary = NetworkSummary.Of(shape);
        Description = new ModelDescription(
            shape.ToString(),
            shape.Layers.Select(layer => layer.ToString()).ToList(),
            summary.Layers,
            summary.Totals,
            shape.ParameterCount,
            checkpoint.Settings.Optimizer.ToString(),
            checkpoint.Settings.BatchSize,
            checkpoint.Position.EpochsDone,
            tested?.TestAccuracy,
            deviceName,
            FirstLayerExplanation.KindOf(shape));
    }

    /// <summary>Pixels per picture the network takes.</summary>
    public int Inputs => network.Checkpoint.Shape.Inputs;

    public ModelDescription Description { get; }

    /// <exception cref="UserInputException">The network's output is not finite for this input.</exception>
    public Prediction Predict(float[] input)
    {
        float[] probabilities;
        lock (device)
            probabilities = network.Probabilities(input);
        if (probabilities.Any(p => !float.IsFinite(p)))
            throw new EngineException("the network's output is not finite (its weights are too large for float arithmetic)");
        var top3 = probabilities.Select((p, digit) => new Candidate(digit, p)).OrderByDescending(c => c.Probability).ThenBy(c => c.Digit).Take(3).ToList();
        return new Prediction(top3[0].Digit, top3, probabilities, input);
    }

    /// <summary>The first layer's pictures for this input, measured against the network's answer to it.</summary>
    public FirstLayerExplanation Explain(float[] input)
    {
        lock (device)
            return FirstLayerExplanation.Of(network, input, out _);
    }

    public void Dispose() => network.Dispose();
}
