using MnistGpu.Engine.Backends;

namespace MnistGpu.Engine.Operations.BatchNormalization;

/// <summary>Which of a batch normalisation's four passes an operation runs.</summary>
public enum BatchNormPass
{
    /// <summary>Batch statistics, saved; moving statistics updated; y.</summary>
    ForwardTraining,

    /// <summary>y from the moving statistics.</summary>
    ForwardInference,

    /// <summary>dγ and dβ.</summary>
    BackwardParameters,

    /// <summary>dx, through the ReLU below when asked.</summary>
    BackwardInput,
}

/// <summary>
/// One pass of a batch normalisation over x (rows, features), Keras 3's rule: momentum 0.99,
/// ε 1e-3; batch statistics while training (the variance biased, divided by the count, both to
/// normalise and to update the moving variance), moving statistics otherwise. The arrays are the
/// layer's views: <see cref="Parameters"/> γ then β, <see cref="Gradients"/> dγ then dβ,
/// <see cref="State"/> the moving mean then variance, <see cref="Saved"/> the batch's mean then 1/√(σ² + ε).
/// </summary>
public sealed partial class BatchNormOperation : Operation
{
    /// <summary>Keras' default: the moving statistics keep 99 % of themselves each step.</summary>
    public const float Momentum = 0.99f;

    /// <summary>Keras' default ε.</summary>
    public const float Epsilon = 1e-3f;

    internal static KernelEntry PartialSumsKernel { get; } = KernelInventory.OperationKernel(typeof(BatchNormKernels), nameof(BatchNormKernels.PartialSums));

    internal static KernelEntry FinishKernel { get; } = KernelInventory.OperationKernel(typeof(BatchNormKernels), nameof(BatchNormKernels.Finish));

    internal static KernelEntry NormalizeKernel { get; } = KernelInventory.OperationKernel(typeof(BatchNormKernels), nameof(BatchNormKernels.Normalize));

    internal static KernelEntry InputGradientKernel { get; } = KernelInventory.OperationKernel(typeof(BatchNormKernels), nameof(BatchNormKernels.InputGradient));

    public required BatchNormPass Pass { get; init; }

    public required int Rows { get; init; }

    public required int Features { get; init; }

    /// <summary>Rows one work item sums: whole samples, at most <see cref="BatchNormKernels.MaxChunkRows"/> unless one sample has more.</summary>
    public required int ChunkRows { get; init; }

    public required DeviceArray<float> Input { get; init; }

    /// <summary>dy for the backward passes; unread by the forwards.</summary>
    public required DeviceArray<float> OutputGradient { get; init; }

    /// <summary>y or dx; unread by <see cref="BatchNormPass.BackwardParameters"/>.</summary>
    public required DeviceArray<float> Target { get; init; }

    public required DeviceArray<float> Parameters { get; init; }

    /// <summary>dγ then dβ: where <see cref="BatchNormPass.BackwardParameters"/> writes them; the input gradient's own copy for <see cref="BatchNormPass.BackwardInput"/>.</summary>
    public required DeviceArray<float> Gradients { get; init; }

    public required DeviceArray<float> State { get; init; }

    public required DeviceArray<float> Saved { get; init; }

    /// <summary>Working space for the chunks' sums: at least 2 · features · <see cref="Chunks"/>.</summary>
    public required DeviceArray<float> Partials { get; init; }

    public bool Relu { get; init; }

    public int Chunks => (Rows + ChunkRows - 1) / ChunkRows;

    public override string Label => label ??= Pass switch
    {
        BatchNormPass.ForwardTraining => $"batchnorm forward {Features}{(Relu ? " +ReLU" : "")}",
        BatchNormPass.ForwardInference => $"batchnorm forward (moving statistics) {Features}{(Relu ? " +ReLU" : "")}",
        BatchNormPass.BackwardParameters => $"batchnorm backward parameters {Features}",
        _ => $"batchnorm backward input {Features}{(Relu ? " +ReLU mask" : "")}",
    };

    public override long Flops => 6L * Rows * Features;

    /// <summary>The kernels each pass launches, in order, with what their sums add up: one table per <see cref="BatchNormPass"/>, in its order.</summary>
    private static readonly (KernelEntry Kernel, BatchNormSum Sum)[][] PassLaunches =
    [
        [
            (PartialSumsKernel, BatchNormSum.Values), (FinishKernel, BatchNormSum.Values),
            (PartialSumsKernel, BatchNormSum.Squares), (FinishKernel, BatchNormSum.Squares),
            (NormalizeKernel, BatchNormSum.Values),
        ],
        [(NormalizeKernel, BatchNormSum.Values)],
        [(PartialSumsKernel, BatchNormSum.Gradients), (FinishKernel, BatchNormSum.Gradients)],
        [(PartialSumsKernel, BatchNormSum.Gradients), (FinishKernel, BatchNormSum.Gradients), (InputGradientKernel, BatchNormSum.Gradients)],
    ];

    private string? label;

    private (KernelEntry Kernel, BatchNormSum Sum)[] Launches => PassLaunches[(int)Pass];

    internal override void RunIlgpu(IlgpuBackend device)
    {
        foreach (var (kernel, sum) in Launches)
        {
            int work = kernel == PartialSumsKernel ? Chunks * Features : kernel == FinishKernel ? Features : Rows * Features;
            device.Launch(kernel, work, Arguments(sum), Label);
        }
    }

    private BatchNormArguments Arguments(BatchNormSum sum) => new()
    {
        Input = View(Input).SubView(0, (long)Rows * Features),
        OutputGradient = View(OutputGradient).SubView(0, (long)Rows * Features),
        Target = View(Target).SubView(0, (long)Rows * Features),
        Parameters = View(Parameters),
        Gradients = View(Gradients),
        State = View(State),
        Saved = View(Saved),
        Partials = View(Partials).SubView(0, 2L * Chunks * Features),
        Rows = Rows,
        Features = Features,
        Chunks = Chunks,
        ChunkRows = ChunkRows,
        Sum = (int)sum,
        Relu = Relu ? 1 : 0,
        Momentum = Momentum,
        Complement = 1f - Momentum,
        Epsilon = Epsilon,
        Moving = Pass == BatchNormPass.ForwardInference ? 1 : 0,
    };
}
