using System.Numerics;
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
/// How the fused training step's kernels (<see cref="FusedStepKernels"/>) and the implicit-GEMM
/// convolutions (<see cref="ImplicitConvolutionKernels"/>) lay out their work: fat panels for
/// CPU-like devices, shared-memory tiles for GPUs.
/// </summary>
public enum KernelLayout
{
    /// <summary>Fat work items over 4×16 panels and whole rows, skipping zero pixels: CPU-like devices.</summary>
    Panel,

    /// <summary>16×16 shared-memory tiles, one output per thread, group reductions: GPUs.</summary>
    Tiled,
}

/// <summary>
/// Chooses, from a device's limits, which matrix-multiply variant runs each product and how
/// every kernel is launched. Nothing here names a particular GPU.
/// </summary>
public sealed class LaunchPlanner
{
    private const int GpuGroupSize = 256;

    private readonly DeviceProfile profile;

    /// <summary>The limits this plan is made for.</summary>
    public DeviceProfile Profile => profile;
    private readonly int groupSize;
    private readonly int maxGroups;
    private readonly bool sharedTilesFit;
    private readonly bool fusedTilesFit;
    private readonly KernelLayout? layoutOverride;

    /// <param name="layout">The fused step's layout to plan for instead of the one the profile suggests (tests).</param>
    public LaunchPlanner(DeviceProfile profile, KernelLayout? layout = null)
    {
        this.profile = profile;
        layoutOverride = layout;
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
        fusedTilesFit = profile.MaxThreadsPerGroup >= FusedStepKernels.TiledGroupSize
            && profile.MaxSharedMemoryPerGroup >= FusedStepKernels.TiledSharedMemoryBytes;
    }

    /// <summary>
    /// The fused step's kernels for this device: tiles on GPUs; panels where the threads are CPU
    /// cores (on PoCL 2–3× faster than the tiles, measured) or the tiles do not fit.
    /// </summary>
    public KernelLayout FusedLayout => layoutOverride ?? (CpuLike || !fusedTilesFit ? KernelLayout.Panel : KernelLayout.Tiled);

    /// <summary>
    /// The implicit-GEMM convolutions' form: the fused step's, where the matrix-multiply tiles fit
    /// too (they share their 32×32 blocks and shared memory).
    /// </summary>
    public KernelLayout ConvolutionLayout => FusedLayout == KernelLayout.Tiled && sharedTilesFit ? KernelLayout.Tiled : KernelLayout.Panel;

    /// <summary>
    /// An implicit convolution's product (M, N): 4×16 panels grid-striding on CPU-like devices;
    /// one 256-thread group per 32×32 block, up to what stays resident, on GPUs.
    /// </summary>
    public KernelConfig ForImplicitConvolution(int m, int n, int chunks) => ConvolutionLayout == KernelLayout.Tiled
        ? new KernelConfig(Math.Clamp(chunks * DivUp(m, MatMulKernels.SharedBlock) * DivUp(n, MatMulKernels.SharedBlock), 1, MaxResidentSharedGroups()), MatMulKernels.SharedGroupSize)
        : For(chunks * DivUp(m, MatMulKernels.PanelRows) * DivUp(n, MatMulKernels.PanelCols));

    /// <summary>Whether this device can run the tiled fused kernels (256-thread groups with their shared memory).</summary>
    public bool FusedTilesFit => fusedTilesFit;

    /// <summary>Launch 1 of the fused step: h (B,H). On a GPU one group per 16×16 tile, so 128×512 spreads over 256 groups.</summary>
    public KernelConfig ForFusedHiddenForward(int batch, int hidden) => FusedLayout == KernelLayout.Tiled
        ? new KernelConfig(Math.Clamp(DivUp(batch, FusedStepKernels.Tile) * DivUp(hidden, FusedStepKernels.Tile), 1, MaxResidentSharedGroups()), FusedStepKernels.TiledGroupSize)
        : For(DivUp(batch, MatMulKernels.PanelRows) * DivUp(hidden, MatMulKernels.PanelCols));

    /// <summary>
    /// Launch 2 of the fused step: on a GPU one group per row, its threads sharing the row's dot
    /// products; a power of two of them, as the shared-memory sum needs.
    /// </summary>
    public KernelConfig ForFusedTail(int batch) => FusedLayout == KernelLayout.Tiled
        ? new KernelConfig(Math.Clamp(batch, 1, maxGroups), 1 << BitOperations.Log2((uint)Math.Min(groupSize, FusedStepKernels.SharedMemoryGroupSum.MaxGroupSize)))
        : For(batch);

    /// <summary>Launch 3 of the fused step: every parameter of every dense layer (inputs, outputs), tile by tile (or panel by panel).</summary>
    public KernelConfig ForFusedGradients(IReadOnlyList<(int Inputs, int Outputs)> layers)
    {
        if (FusedLayout == KernelLayout.Tiled)
        {
            int tiles = layers.Sum(l => DivUp(l.Inputs + 1, FusedStepKernels.Tile) * DivUp(l.Outputs, FusedStepKernels.Tile));
            return new KernelConfig(Math.Clamp(tiles, 1, MaxResidentSharedGroups()), FusedStepKernels.TiledGroupSize);
        }

        return For(layers.Sum(l => DivUp(l.Inputs + 1, MatMulKernels.PanelRows) * DivUp(l.Outputs, MatMulKernels.PanelCols)));
    }

    /// <summary>
    /// On a GPU, shared-memory tiles whenever the group and shared-memory limits allow them. Where
    /// the threads are CPU cores (the CPU accelerator, PoCL), zero-skipping panels where the left
    /// operand is the input or a ReLU output (forward and weight gradient), register tiles where
    /// it is a dense gradient: on PoCL the tiles ran at 10 GFLOP/s, the panels at 15–16.
    /// </summary>
    public MatMulVariant VariantFor(MatMulProblem problem)
    {
        if (!CpuLike)
            return sharedTilesFit ? MatMulVariant.SharedMemoryTiled : MatMulVariant.RegisterTiled;
        bool sparseLeft = problem.Epilogue != Epilogue.ReluMask;
        return sparseLeft && problem.N >= MatMulKernels.PanelCols ? MatMulVariant.SparseRowPanel : MatMulVariant.RegisterTiled;
    }

    /// <summary>Every variant <see cref="VariantFor"/> can choose on this device: the kernels to compile.</summary>
    public IReadOnlyList<MatMulVariant> Variants =>
        CpuLike ? [MatMulVariant.RegisterTiled, MatMulVariant.SparseRowPanel]
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

    /// <summary>Whether the device's threads are CPU cores, which want fat work items rather than tiles.</summary>
    private bool CpuLike => profile.IsCpuAccelerator || profile.RunsOnCpu;

    private int MaxResidentSharedGroups() =>
        profile.Multiprocessors * Math.Max(1, profile.MaxThreadsPerMultiprocessor / MatMulKernels.SharedGroupSize);

    private static int DivUp(int value, int divisor) => (value + divisor - 1) / divisor;
}
