using MnistGpu.Engine.Backends;
using MnistGpu.Engine.Model;
using MnistGpu.Engine.Model.Layers;
using MnistGpu.Engine.Operations.Gather;
using MnistGpu.Engine.Operations.Softmax;

namespace MnistGpu.Engine.Steps;

/// <summary>
/// A forward-only pass of the network over a split on the device, batch by batch: what evaluation
/// reads and writes, built once per split. A step runner (<see cref="StepRunners"/>) runs each
/// batch, fused or as <see cref="Compose"/>.
/// </summary>
public sealed class EvaluationPass(Network network, BatchSource source, DeviceArray<float> probabilities, DeviceArray<float> losses, DeviceArray<int> predictions)
{
    public Network Network { get; } = network;

    public BatchSource Source { get; } = source;

    /// <summary>(N,C): each sample's class probabilities, in the split's order.</summary>
    public DeviceArray<float> Probabilities { get; } = probabilities;

    public DeviceArray<float> Losses { get; } = losses;

    public DeviceArray<int> Predictions { get; } = predictions;

    /// <summary>The batch as separate operations: gather, forward, softmax-cross-entropy forward.</summary>
    private GatherOperation? gather;
    private SoftmaxCrossEntropyOperation? loss;

    public void Compose(int start, int batch)
    {
        var backend = Network.Backend;
        int classes = Network.Shape.Classes;
        backend.Run(GatherOperation.Reuse(ref gather, Source, start, batch, Network.Input, Network.Labels));
        Network.Forward(batch, StepContext.Inference);
        using var batchProbabilities = backend.Slice(Probabilities, start * classes, batch * classes);
        backend.Run(SoftmaxCrossEntropyOperation.Reuse(ref loss, backward: false, Network.Logits, Network.Labels, batchProbabilities, classes, new SampleOutputs(Losses, Predictions, start), batch));
    }
}
