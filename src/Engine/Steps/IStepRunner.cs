using MnistGpu.Engine.Backends;
using MnistGpu.Engine.Backends.Host;
using MnistGpu.Engine.Model;

namespace MnistGpu.Engine.Steps;

/// <summary>
/// Runs a network's training steps and evaluation batches: as the composition of the backend's
/// separate operations, or fused where the device and the network allow it. One runner per
/// network, made by <see cref="StepRunners.For"/> and disposed with its owner (trainer, evaluator).
/// </summary>
public interface IStepRunner : IDisposable
{
    /// <summary>Gather, forward, softmax-cross-entropy, backward and the optimizer's update for rows [start, start + batch) of the epoch's order.</summary>
    void Train(TrainingStep work, int start, int batch);

    /// <summary>A forward-only pass over rows [start, start + batch): probabilities, losses and predictions.</summary>
    void Evaluate(EvaluationPass work, int start, int batch);
}

/// <summary>Whether a network's steps run fused where its device and layers allow it, or as the composition of separate operations.</summary>
public enum StepForm
{
    Fused,

    /// <summary>Every step as the backend's separate operations (<see cref="ComposedSteps"/>): the definition the fused runners are checked against.</summary>
    Composed,
}

/// <summary>
/// How a trainer or evaluator runs its network: the step runner's form, and the convolutions'
/// algorithm on ILGPU devices. Two explicit choices, set when the network is made.
/// </summary>
public sealed record StepOptions(StepForm Form, ConvolutionAlgorithm Convolutions)
{
    /// <summary>Fused steps, implicit convolutions: what training, evaluation and serving use.</summary>
    public static StepOptions Fused { get; } = new(StepForm.Fused, ConvolutionAlgorithm.Implicit);

    /// <summary>The plain definition (<c>--unfused</c>): separate operations, convolutions unrolled.</summary>
    public static StepOptions Unfused { get; } = new(StepForm.Composed, ConvolutionAlgorithm.Unrolled);
}

/// <summary>Picks a network's step runner by what its device and its layers can do.</summary>
public static class StepRunners
{
    /// <summary>
    /// For <see cref="StepForm.Fused"/>, the fused runner of the backend the network's backend
    /// names for fusion (<see cref="ITrainingBackend.FusionTarget"/>) when the network is one it
    /// covers; the composition otherwise.
    /// </summary>
    public static IStepRunner For(Network network, StepForm form = StepForm.Fused) => form == StepForm.Composed ? ComposedSteps.Instance : network.Backend.FusionTarget switch
    {
        IlgpuBackend ilgpu when IlgpuFusedSteps.Covers(network.Shape) => new IlgpuFusedSteps(ilgpu, network),
        IlgpuBackend ilgpu when IlgpuConvolutionSteps.Covers(network.Shape) => new IlgpuConvolutionSteps(ilgpu, network),
        HostBackend host when HostFusedSteps.Covers(network.Shape) => new HostFusedSteps(host, network),
        _ => ComposedSteps.Instance,
    };
}

/// <summary>
/// A runner with a fused form for one network on one device. It may hold device state made for
/// its network (views, a layer table), so another network's step is refused.
/// </summary>
internal abstract class FusedStepRunner(Network network) : IStepRunner
{
    protected Network Network { get; } = network;

    public void Train(TrainingStep work, int start, int batch)
    {
        RequireOwn(work.Network);
        TrainFused(work, start, batch);
    }

    public void Evaluate(EvaluationPass work, int start, int batch)
    {
        RequireOwn(work.Network);
        EvaluateFused(work, start, batch);
    }

    public virtual void Dispose()
    {
    }

    protected abstract void TrainFused(TrainingStep work, int start, int batch);

    protected abstract void EvaluateFused(EvaluationPass work, int start, int batch);

    private void RequireOwn(Network stepNetwork)
    {
        if (!ReferenceEquals(stepNetwork, Network))
            throw new ArgumentException("this step runner was made for another network", nameof(stepNetwork));
    }
}

/// <summary>Every step as the backend's separate operations: the definition every fused runner is checked against.</summary>
public sealed class ComposedSteps : IStepRunner
{
    private ComposedSteps()
    {
    }

    public static ComposedSteps Instance { get; } = new();

    public void Train(TrainingStep work, int start, int batch) => work.Compose(start, batch);

    public void Evaluate(EvaluationPass work, int start, int batch) => work.Compose(start, batch);

    public void Dispose()
    {
    }
}
