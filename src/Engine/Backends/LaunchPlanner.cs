using ILGPU;
using ILGPU.Runtime;
using MnistGpu.Kernels;

namespace MnistGpu.Engine.Backends;

/// <summary>
/// Chooses grid and group sizes for the grid-stride kernels from the accelerator's own limits.
/// </summary>
internal sealed class LaunchPlanner
{
    private const int GpuGroupSize = 256;

    /// <summary>Enough resident groups per multiprocessor to hide memory latency on a GPU.</summary>
    private const int GpuGroupsPerMultiprocessor = 8;

    private readonly bool isCpuAccelerator;
    private readonly int groupSize;
    private readonly int maxGroups;

    public LaunchPlanner(Accelerator accelerator)
    {
        isCpuAccelerator = accelerator.AcceleratorType == AcceleratorType.CPU;
        if (isCpuAccelerator)
        {
            // Each CPU-accelerator group ends in a barrier across its OS threads, so one full
            // group per simulated multiprocessor, striding over all the work, is the cheapest launch.
            groupSize = accelerator.MaxNumThreadsPerGroup;
            maxGroups = accelerator.NumMultiprocessors;
        }
        else
        {
            int warp = Math.Max(1, accelerator.WarpSize);
            groupSize = Math.Max(warp, Math.Min(GpuGroupSize, accelerator.MaxNumThreadsPerGroup) / warp * warp);
            maxGroups = Math.Max(1, accelerator.NumMultiprocessors) * GpuGroupsPerMultiprocessor;
        }
    }

    /// <summary>A launch for <paramref name="workItems"/> independent items.</summary>
    public KernelConfig For(int workItems)
    {
        int groups = Math.Clamp((workItems + groupSize - 1) / groupSize, 1, maxGroups);
        return new KernelConfig(groups, groupSize);
    }

    /// <summary>A launch for a rows×cols matrix product, one register tile per work item.</summary>
    public KernelConfig ForMatMul(int rows, int cols) =>
        For(((rows + MatMulKernels.TileRows - 1) / MatMulKernels.TileRows) * ((cols + MatMulKernels.TileCols - 1) / MatMulKernels.TileCols));
}
