using ILGPU;

namespace MnistGpu.Kernels;

/// <summary>
/// Every kernel walks its work items in a grid-stride loop, so one launch covers any amount of
/// work with whatever grid the engine picks: one fat group per multiprocessor on ILGPU's CPU
/// accelerator (where each group costs a barrier of OS threads) and many small ones on a GPU.
/// </summary>
internal static class GridStride
{
    public static int First => Grid.GlobalIndex.X;

    public static int Step => Grid.DimX * Group.DimX;
}
