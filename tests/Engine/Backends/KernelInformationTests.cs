using MnistGpu.Engine.Backends;

namespace MnistGpu.Tests.Engine.Backends;

/// <summary>
/// The shared memory every kernel's groups allocate, as ILGPU's compiler reports it once kernel
/// information is enabled (<see cref="KernelInformation"/>): exactly what ptxas reports (docs/kernels.md),
/// ILGPU.Algorithms' group sum included, and what <c>kernels</c> and the PTX manifest state.
/// </summary>
public sealed class KernelInformationTests
{
    public static TheoryData<string> Kernels => new(KernelInventory.All.Select(kernel => kernel.Name));

    [Fact]
    public void This_ilgpu_still_has_the_setter_the_override_reaches() => Assert.True(KernelInformation.IsAvailable);

    /// <summary>What the inventory declares for each kernel, from the kernels' own constants, is what the compiler allocates.</summary>
    [Theory]
    [MemberData(nameof(Kernels))]
    public void The_compiled_shared_memory_is_what_the_kernel_declares(string kernel)
    {
        var entry = KernelInventory.All.Single(k => k.Name == kernel);
        Assert.Equal(entry.DeclaredSharedMemoryBytes, entry.SharedMemoryBytes);
    }

    /// <summary>The figures ptxas reports for the shared-memory kernels (docs/kernels.md), so a declaration that moved with its kernel still shows here.</summary>
    [Theory]
    [InlineData("MatMulKernels.SharedMemoryTiled", 8192)]
    [InlineData("FusedStepKernels.HiddenForwardTiled", 4096)]
    [InlineData("FusedStepKernels.TailPerGroup.AlgorithmsGroupSum", 80)]
    [InlineData("FusedStepKernels.TailPerGroup.SharedMemoryGroupSum", 4160)]
    [InlineData("ImplicitConvolutionKernels.BackwardParametersTiled", 8192)]
    public void The_tiled_kernels_allocate_ptxas_figures(string kernel, int bytes) =>
        Assert.Equal(bytes, KernelInventory.All.Single(k => k.Name == kernel).SharedMemoryBytes);
}
