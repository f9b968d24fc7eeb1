using MnistGpu.Engine.Backends;
using MnistGpu.Engine.Model;
using MnistGpu.Engine.Model.Layers;
using MnistGpu.Engine.Operations.Gather;
using MnistGpu.Kernels;

namespace MnistGpu.Engine.Steps;

/// <summary>
/// Everything one training step reads and writes: the network's arrays, the training split on
/// the device with this epoch's order, where per-sample results go, and the optimizer. Built once
/// per trainer, so a step passes only where its batch starts and, in <see cref="Update"/>, the
/// optimizer's arguments for this update. A step runner (<see cref="StepRunners"/>) runs it,
/// fused or as <see cref="Compose"/>.
/// </summary>
public sealed class TrainingStep(Network network, BatchSource source, DeviceArray<float> losses, DeviceArray<int> predictions, OptimizerSettings optimizer)
{
    public Network Network { get; } = network;

    public BatchSource Source { get; } = source;

    /// <summary>(N): each sample's loss, at its position in the epoch's order.</summary>
    public DeviceArray<float> Losses { get; } = losses;

    /// <summary>(N): each sample's prediction, at its position in the epoch's order.</summary>
    public DeviceArray<int> Predictions { get; } = predictions;

    public OptimizerSettings Optimizer { get; } = optimizer;

    /// <summary>The optimizer's arguments for the next update (Adam's depend on the update's number); set before each step.</summary>
    public OptimizerStep Update { get; set; } = optimizer.ForUpdate(1);

    /// <summary>The next step's number and the run's seed, for layers that draw (Dropout); set before each step, with <see cref="Update"/>.</summary>
    public StepContext Context { get; set; } = StepContext.ForTraining(1, 1);

    /// <summary>
    /// The step as separate operations on the network's backend: gather, forward, loss,
    /// backward, one optimizer launch over the flat arrays. The definition a fused step must match.
    /// </summary>
    private GatherOperation? gather;

    public void Compose(int start, int batch)
    {
        var backend = Network.Backend;
        backend.Run(GatherOperation.Reuse(ref gather, Source, start, batch, Network.Input, Network.Labels));
        Network.ComputeGradients(batch, new SampleOutputs(Losses, Predictions, start), Context);
        backend.OptimizerUpdate(Network.Parameters, Network.Gradients, Network.OptimizerState, Update);
    }
}
