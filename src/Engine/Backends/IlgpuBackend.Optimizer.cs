using MnistGpu.Kernels;

namespace MnistGpu.Engine.Backends;

/// <summary>
/// The optimizer's launches: one over whole flat arrays, one that adds a kernel gradient's chunks
/// first, and the update an epilogue applies (<see cref="EpilogueUpdate"/>).
/// </summary>
public sealed partial class IlgpuBackend
{
    /// <summary>
    /// For a step runner: the optimizer's update of the <paramref name="length"/> parameters from
    /// <paramref name="offset"/> of the flat arrays (one layer's), for its gradient launch to apply
    /// in its epilogue. Views only: nothing is allocated.
    /// </summary>
    internal static ParameterUpdate EpilogueUpdate(DeviceArray<float> parameters, OptimizerState state, OptimizerStep update, int offset, int length)
    {
        RequireStateArrays(state, update);
        var weights = View(parameters).SubView(offset, length);
        return new ParameterUpdate
        {
            Weights = weights,
            State1 = state.Arrays.Count > 0 ? View(state.Arrays[0]).SubView(offset, length) : weights,
            State2 = state.Arrays.Count > 1 ? View(state.Arrays[1]).SubView(offset, length) : weights,
            Step = update,
        };
    }

    public void OptimizerUpdate(DeviceArray<float> weights, DeviceArray<float> gradients, OptimizerState state, OptimizerStep update) =>
        Update(weights, update, Optimizer(gradients, state, update), OptimizerNames[(int)update.Rule]);

    /// <summary>
    /// For a step runner: the optimizer's update, the gradient of parameters from
    /// <paramref name="start"/> on summed first from <paramref name="chunks"/> partial sums that
    /// <see cref="ConvolutionGradientChunks"/> left in <paramref name="scratch"/>: the second stage of
    /// that convolution's reduction in the update's prologue, one launch fewer than a separate sum.
    /// </summary>
    internal void OptimizerUpdateSummingChunks(DeviceArray<float> weights, DeviceArray<float> gradients, OptimizerState state, OptimizerStep update, DeviceArray<float> scratch, int start, int parameters, int chunks) =>
        Update(
            weights,
            update,
            Optimizer(gradients, state, update) with { Partials = View(scratch).SubView(0, chunks * parameters), PartialsStart = start, PartialsLength = parameters, Chunks = chunks },
            SummingOptimizerNames[(int)update.Rule]);

    /// <summary>The update's arguments; a state array the rule does not keep is never read, so any view will do.</summary>
    private static OptimizerArguments Optimizer(DeviceArray<float> gradients, OptimizerState state, OptimizerStep update)
    {
        RequireStateArrays(state, update);
        var g = View(gradients);
        return new OptimizerArguments
        {
            Gradients = g,
            State1 = state.Arrays.Count > 0 ? View(state.Arrays[0]) : g,
            State2 = state.Arrays.Count > 1 ? View(state.Arrays[1]) : g,
            Partials = g,
            Step = update,
        };
    }

    private static void RequireStateArrays(OptimizerState state, OptimizerStep update)
    {
        if (state.Arrays.Count != update.StateArrays)
            throw new ArgumentException($"{update.Rule} keeps {update.StateArrays} state arrays, not {state.Arrays.Count}", nameof(state));
    }

    private void Update(DeviceArray<float> weights, OptimizerStep update, OptimizerArguments arguments, string operation) =>
        Launch(optimizers[(int)update.Rule], launch.For(weights.Length), arguments with { Weights = View(weights) }, new LaunchLabel(operation));
}
