using MnistGpu.Engine.Backends;
using MnistGpu.Kernels;

namespace MnistGpu.Tests.Engine.Backends;

/// <summary>Launch plans follow from a device's limits alone: the variant per product and the grid of every launch.</summary>
public sealed class LaunchPlannerTests
{
    private static readonly MatMulProblem Forward = MatMulProblem.Forward(128, 784, 512, relu: true);
    private static readonly MatMulProblem InputGradient = MatMulProblem.BackwardInput(128, 784, 512);
    private static readonly MatMulProblem WeightGradient = MatMulProblem.BackwardParameters(128, 784, 512);

    [Fact]
    public void The_cpu_accelerator_skips_zeros_where_the_left_operand_is_sparse_and_runs_one_fat_group_per_core()
    {
        var planner = new LaunchPlanner(new DeviceProfile(IsCpuAccelerator: true, WarpSize: 4, MaxThreadsPerGroup: 16, MaxSharedMemoryPerGroup: int.MaxValue, Multiprocessors: 2, MaxThreadsPerMultiprocessor: 16));

        Assert.Equal(MatMulVariant.SparseRowPanel, planner.VariantFor(Forward));
        Assert.Equal(MatMulVariant.SparseRowPanel, planner.VariantFor(WeightGradient));
        Assert.Equal(MatMulVariant.RegisterTiled, planner.VariantFor(InputGradient));
        // Too narrow for a 16-column panel.
        Assert.Equal(MatMulVariant.RegisterTiled, planner.VariantFor(MatMulProblem.Forward(128, 512, 10, relu: false)));
        Assert.Equal([MatMulVariant.RegisterTiled, MatMulVariant.SparseRowPanel], planner.Variants);
        Assert.Equal((2, 16), Shape(planner.For(1_000_000)));
        Assert.Equal((1, 16), Shape(planner.For(3)));
    }

    [Fact]
    public void A_large_gpu_gets_shared_memory_tiles_and_grids_up_to_its_resident_groups()
    {
        var planner = new LaunchPlanner(DeviceProfile.NvidiaH200);

        Assert.All(new[] { Forward, InputGradient, WeightGradient }, p => Assert.Equal(MatMulVariant.SharedMemoryTiled, planner.VariantFor(p)));
        Assert.Equal([MatMulVariant.SharedMemoryTiled], planner.Variants);
        Assert.Equal((4, 256), Shape(planner.For(1_000)));
        Assert.Equal((132 * 8, 256), Shape(planner.For(100_000_000)));
        // 128x512 outputs in 32x32 blocks.
        Assert.Equal((64, MatMulKernels.SharedGroupSize), Shape(planner.ForMatMul(MatMulVariant.SharedMemoryTiled, Forward)));
    }

    [Fact]
    public void A_gpu_without_room_for_the_shared_tiles_uses_register_tiles()
    {
        var planner = new LaunchPlanner(new DeviceProfile(false, 32, 1024, MatMulKernels.SharedMemoryBytes - 1, 16, 2048));
        Assert.Equal(MatMulVariant.RegisterTiled, planner.VariantFor(Forward));
        Assert.Equal([MatMulVariant.RegisterTiled], planner.Variants);
    }

    [Fact]
    public void A_small_device_gets_groups_no_larger_than_it_allows_in_whole_warps()
    {
        var planner = new LaunchPlanner(new DeviceProfile(false, 32, 64, 48 * 1024, 2, 256));
        Assert.Equal(MatMulVariant.RegisterTiled, planner.VariantFor(Forward));
        Assert.Equal((2, 64), Shape(planner.For(100)));
        Assert.Equal((2 * 4, 64), Shape(planner.For(1_000_000)));
    }

    private static (int Groups, int GroupSize) Shape(ILGPU.KernelConfig config) => (config.GridDim.X, config.GroupDim.X);
}
