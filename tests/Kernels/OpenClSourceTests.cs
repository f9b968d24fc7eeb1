using System.Text.RegularExpressions;
using MnistGpu.Engine.Backends;

namespace MnistGpu.Tests.Kernels;

/// <summary>
/// The OpenCL C that ILGPU generates for every kernel, read as a driver would get it: every group
/// barrier must fence local memory, or shared-memory tiles race on OpenCL devices.
/// </summary>
public sealed partial class OpenClSourceTests
{
    public static TheoryData<string> Kernels => new(KernelInventory.All.Select(k => k.Name));

    [Fact]
    public void The_fence_table_this_workaround_edits_still_exists()
    {
        Assert.True(OpenClBarrierFence.IsAvailable, "ILGPU no longer has CLInstructions.MemoryFenceFlags: OpenCL barriers may not fence local memory; find another way (docs/kernels.md)");
    }

    [Theory]
    [MemberData(nameof(Kernels))]
    public void Every_barrier_fences_local_memory(string name)
    {
        string source = KernelInventory.OpenClSource(KernelInventory.All.Single(k => k.Name == name));
        var barriers = Barrier().Matches(source);
        foreach (Match barrier in barriers)
            Assert.Contains("CLK_LOCAL_MEM_FENCE", barrier.Value, StringComparison.Ordinal);
        bool usesLocalMemory = LocalArray().IsMatch(source);
        Assert.True(!usesLocalMemory || barriers.Count > 0, $"{name} uses local memory but has no barrier");
    }

    [Fact]
    public void The_kernels_that_stage_tiles_in_shared_memory_have_barriers_to_check()
    {
        string[] tiled = ["MatMulKernels.SharedMemoryTiled", "FusedStepKernels.HiddenForwardTiled", "FusedStepKernels.TailPerGroup.SharedMemoryGroupSum", "FusedStepKernels.GradientsUpdateTiled"];
        foreach (string name in tiled)
            Assert.NotEmpty(Barrier().Matches(KernelInventory.OpenClSource(KernelInventory.All.Single(k => k.Name == name))));
    }

    [GeneratedRegex(@"work_group_barrier\s*\([^;]*\)")]
    private static partial Regex Barrier();

    [GeneratedRegex(@"\blocal\b")]
    private static partial Regex LocalArray();
}
