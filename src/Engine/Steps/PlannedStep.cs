using ILGPU;
using MnistGpu.Engine.Backends;
using MnistGpu.Engine.Model;
using MnistGpu.Kernels;

namespace MnistGpu.Engine.Steps;

/// <summary>What <c>mnistgpu kernels</c> and bench report: the launches of one training step as a device plans them.</summary>
public static class PlannedStep
{
    /// <summary>
    /// The kernel launches of one training step of the dense stack <paramref name="shape"/> at
    /// <paramref name="batch"/> rows with <paramref name="optimizer"/> on <paramref name="backend"/>,
    /// as its runner would issue them; empty for a backend that launches no kernels. Written out
    /// here beside the runners until issue 22 records them from the runners themselves.
    /// </summary>
    public static IReadOnlyList<PlannedLaunch> Of(ITrainingBackend backend, NetworkShape shape, int batch, OptimizerSettings optimizer) =>
        backend.FusionTarget is IlgpuBackend ilgpu && shape.IsDenseStack ? Launches(ilgpu.Launches, shape, batch, optimizer, fused: ilgpu.FusedSteps) : [];

    /// <summary>
    /// The launches of one training step of <paramref name="shape"/> at <paramref name="batch"/>
    /// rows with <paramref name="optimizer"/>, as <paramref name="planner"/> plans them: when
    /// <paramref name="fused"/>, the three fused ones and two per hidden layer beyond the first.
    /// </summary>
    private static List<PlannedLaunch> Launches(LaunchPlanner planner, NetworkShape shape, int batch, OptimizerSettings optimizer, bool fused)
    {
        if (fused && IlgpuFusedSteps.Covers(shape))
        {
            bool tiled = planner.FusedVariant == FusedVariant.Tiled;
            int shared = tiled ? FusedStepKernels.TiledSharedMemoryBytes : 0;
            var dense = shape.DenseLayers;
            var fusedLaunches = new List<PlannedLaunch>
            {
                Grid("hidden layer, x gathered from the images", tiled ? "FusedStepKernels.HiddenForwardTiled" : "FusedStepKernels.HiddenForwardPanel", planner.ForFusedHiddenForward(batch, shape.Hidden), shared),
            };
            for (int i = 1; i < dense.Count - 1; i++)
                fusedLaunches.Add(Product($"dense forward {dense[i].Inputs}->{dense[i].Outputs}", MatMulProblem.Forward(batch, dense[i].Inputs, dense[i].Outputs, relu: true)));
            fusedLaunches.Add(Grid("output layer, softmax-cross-entropy, dz and dh", tiled ? "FusedStepKernels.TailPerGroup" : "FusedStepKernels.TailPerRow", planner.ForFusedTail(batch), 0));
            for (int i = dense.Count - 2; i >= 1; i--)
                fusedLaunches.Add(Product($"dense backward input {dense[i].Outputs}->{dense[i].Inputs}", MatMulProblem.BackwardInput(batch, dense[i].Inputs, dense[i].Outputs)));
            fusedLaunches.Add(Grid($"every parameter's gradient and {optimizer.Name}", tiled ? "FusedStepKernels.GradientsUpdateTiled" : "FusedStepKernels.GradientsUpdatePanel", planner.ForFusedGradients(dense.Select(layer => (layer.Inputs, layer.Outputs)).ToList()), shared));
            return fusedLaunches;
        }

        var launches = new List<PlannedLaunch> { Grid("gather", "GatherKernels.Batch", planner.For(batch * shape.Inputs), 0) };
        var layers = shape.Layers;
        for (int i = 0; i < layers.Count; i++)
            launches.Add(Product($"dense forward {layers[i].Inputs}->{layers[i].Outputs}", MatMulProblem.Forward(batch, layers[i].Inputs, layers[i].Outputs, relu: i < layers.Count - 1)));
        launches.Add(Grid("softmax-cross-entropy forward+backward", "SoftmaxCrossEntropyKernels.ForwardBackward", planner.For(batch), 0));
        for (int i = layers.Count - 1; i >= 0; i--)
        {
            launches.Add(Product($"dense backward parameters {layers[i].Inputs}->{layers[i].Outputs}", MatMulProblem.BackwardParameters(batch, layers[i].Inputs, layers[i].Outputs)));
            if (i > 0)
                launches.Add(Product($"dense backward input {layers[i].Outputs}->{layers[i].Inputs}", MatMulProblem.BackwardInput(batch, layers[i].Inputs, layers[i].Outputs)));
        }

        // Each UpdateRule is named after the OptimizerKernels method that applies it.
        launches.Add(Grid(optimizer.Name, $"{nameof(OptimizerKernels)}.{optimizer.Rule}", planner.For(shape.ParameterCount), 0));
        return launches;

        PlannedLaunch Product(string operation, MatMulProblem problem)
        {
            var variant = planner.VariantFor(problem);
            var config = planner.ForMatMul(variant, problem);
            return new PlannedLaunch(operation, $"MatMulKernels.{variant}", config.GridDim.X, config.GroupDim.X, KernelInventory.SharedMemoryBytes(variant));
        }
    }

    private static PlannedLaunch Grid(string operation, string kernel, KernelConfig config, int sharedMemoryBytes) =>
        new(operation, kernel, config.GridDim.X, config.GroupDim.X, sharedMemoryBytes);
}
