using ILGPU;
using MnistGpu.Kernels;

namespace MnistGpu.Engine.Backends;

/// <summary>The matrix-multiply implementations of <see cref="MatMulKernels"/>.</summary>
public enum MatMulVariant
{
    RegisterTiled,
    SparseRowPanel,
    SharedMemoryTiled,
}

/// <summary>
/// Chooses, from a device's limits, which matrix-multiply variant runs each product and how
/// every kernel is launched. Nothing here names a particular GPU.
/// </summary>
public sealed class LaunchPlanner
{
    private const int GpuGroupSize = 256;

    private readonly DeviceProfile profile;
    private readonly int groupSize;
    private readonly int maxGroups;
    private readonly bool sharedTilesFit;

    public LaunchPlanner(DeviceProfile profile)
    {
        this.profile = profile;
        if (profile.IsCpuAccelerator)
        {
            // Each CPU-accelerator group ends in a barrier across its OS threads, so one full
            // group per simulated multiprocessor, striding over all the work, is the cheapest launch.
            groupSize = profile.MaxThreadsPerGroup;
            maxGroups = profile.Multiprocessors;
        }
        else
        {
            int warp = profile.WarpSize;
            groupSize = Math.Max(warp, Math.Min(GpuGroupSize, profile.MaxThreadsPerGroup) / warp * warp);
            maxGroups = profile.Multiprocessors * Math.Max(1, profile.MaxThreadsPerMultiprocessor / groupSize);
        }

        sharedTilesFit = profile.MaxThreadsPerGroup >= MatMulKernels.SharedGroupSize
            && profile.MaxSharedMemoryPerGroup >= MatMulKernels.SharedMemoryBytes;
    }

    /// <summary>
    /// On a GPU, shared-memory tiles whenever the group and shared-memory limits allow them. On
    /// the CPU accelerator, zero-skipping panels where the left operand is the input or a ReLU
    /// output (forward and weight gradient), register tiles where it is a dense gradient.
    /// </summary>
    public MatMulVariant VariantFor(MatMulProblem problem)
    {
        if (!profile.IsCpuAccelerator)
            return sharedTilesFit ? MatMulVariant.SharedMemoryTiled : MatMulVariant.RegisterTiled;
        bool sparseLeft = problem.Epilogue != Epilogue.ReluMask;
        return sparseLeft && problem.N >= MatMulKernels.PanelCols ? MatMulVariant.SparseRowPanel : MatMulVariant.RegisterTiled;
    }

    /// <summary>Every variant <see cref="VariantFor"/> can choose on this device: the kernels to compile.</summary>
    public IReadOnlyList<MatMulVariant> Variants =>
        profile.IsCpuAccelerator ? [MatMulVariant.RegisterTiled, MatMulVariant.SparseRowPanel]
        : sharedTilesFit ? [MatMulVariant.SharedMemoryTiled]
        : [MatMulVariant.RegisterTiled];

    /// <summary>
    /// Every variant this device can run, chosen or not: the grid-stride ones run with any group,
    /// the shared-memory one where a group of 256 threads and its tiles fit. What tests check and
    /// bench measures, each on its own.
    /// </summary>
    public IReadOnlyList<MatMulVariant> RunnableVariants =>
        sharedTilesFit ? [MatMulVariant.RegisterTiled, MatMulVariant.SparseRowPanel, MatMulVariant.SharedMemoryTiled]
        : [MatMulVariant.RegisterTiled, MatMulVariant.SparseRowPanel];

    /// <summary>A grid-stride launch for <paramref name="workItems"/> independent items.</summary>
    public KernelConfig For(int workItems)
    {
        int groups = Math.Clamp((workItems + groupSize - 1) / groupSize, 1, maxGroups);
        return new KernelConfig(groups, groupSize);
    }

    public KernelConfig ForMatMul(MatMulVariant variant, MatMulProblem p) => variant switch
    {
        MatMulVariant.RegisterTiled => For(DivUp(p.M, MatMulKernels.RegisterTileRows) * DivUp(p.N, MatMulKernels.RegisterTileCols)),
        MatMulVariant.SparseRowPanel => For(DivUp(p.M, MatMulKernels.PanelRows) * DivUp(p.N, MatMulKernels.PanelCols)),
        _ => new KernelConfig(
            Math.Clamp(DivUp(p.M, MatMulKernels.SharedBlock) * DivUp(p.N, MatMulKernels.SharedBlock), 1, MaxResidentSharedGroups()),
            MatMulKernels.SharedGroupSize),
    };

    private int MaxResidentSharedGroups() =>
        profile.Multiprocessors * Math.Max(1, profile.MaxThreadsPerMultiprocessor / MatMulKernels.SharedGroupSize);

    private static int DivUp(int value, int divisor) => (value + divisor - 1) / divisor;
}
