using MnistGpu.Engine.Backends;
using MnistGpu.Engine.Model;

namespace MnistGpu.Engine.Steps;

/// <summary>
/// What one training step launches, recorded from the step runner itself (never described
/// beside it): what <c>mnistgpu kernels</c> lists, what bench reports as launches per step, and
/// what the tests expect, so none of them can disagree with what runs.
/// </summary>
public static class PlannedStep
{
    /// <summary>
    /// What a step of <paramref name="shape"/> at <paramref name="batch"/> rows leaves unfused on
    /// ILGPU devices and why, for <c>mnistgpu kernels</c>; null where nothing needs saying.
    /// </summary>
    public static string? Unfused(ITrainingBackend backend, NetworkShape shape, int batch, StepOptions steps) =>
        steps.Form == StepForm.Fused && (backend as IlgpuBackend ?? backend.FusionTarget as IlgpuBackend) is not null && IlgpuConvolutionSteps.Covers(shape)
            ? IlgpuConvolutionSteps.UpdateReason(shape, batch)
            : null;

    /// <summary>
    /// The kernel launches of one training step of <paramref name="shape"/> at
    /// <paramref name="batch"/> rows with <paramref name="optimizer"/> on <paramref name="backend"/>,
    /// run as <paramref name="steps"/> says: its runner records them on a network of that shape
    /// (allocated for the purpose, nothing launched). Empty for a backend that launches no
    /// kernels.
    /// </summary>
    /// <exception cref="UserInputException">The network does not fit the device's memory.</exception>
    public static IReadOnlyList<PlannedLaunch> Of(ITrainingBackend backend, NetworkShape shape, int batch, OptimizerSettings optimizer, StepOptions steps)
    {
        if ((backend as IlgpuBackend ?? backend.FusionTarget as IlgpuBackend) is not { } recorder)
            return [];
        Network.Plan(new MemoryPlan(), shape, batch, optimizer.StateArrays).RequireFits(backend);
        using var network = new Network(backend, shape, batch, optimizer.StateArrays, steps.Convolutions);
        using var images = backend.Allocate<byte>(batch * shape.Inputs);
        using var labels = backend.Allocate<byte>(batch);
        using var order = backend.Allocate<int>(batch);
        using var losses = backend.Allocate<float>(batch);
        using var predictions = backend.Allocate<int>(batch);
        var step = new TrainingStep(network, new BatchSource(images, labels, order, shape.Inputs) { Scaling = shape.Scaling }, losses, predictions, optimizer);
        using var runner = StepRunners.For(network, steps.Form);
        return recorder.Record(() => runner.Train(step, 0, batch));
    }
}
