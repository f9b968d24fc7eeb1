using MnistGpu.Engine.Backends;

namespace MnistGpu.Tests.Engine.Backends;

/// <summary>
/// The shared memory every kernel's groups allocate, as ILGPU's compiler reports it once kernel
/// information is enabled (<see cref="KernelInformation"/>): exactly what ptxas reports (docs/kernels.md),
/// ILGPU.Algorithms' group sum included, and what <c>kernels</c> and the PTX manifest state.
/// </summary>
public sealed class KernelInformationTests
{
    public static TheoryData<string, int> Expected => new()
    {
        { "GatherKernels.Batch", 0 },
        { "MatMulKernels.RegisterTiled", 0 },
        { "MatMulKernels.SparseRowPanel", 0 },
        { "MatMulKernels.SharedMemoryTiled", 8192 },
        { "SoftmaxCrossEntropyKernels.Forward", 0 },
        { "SoftmaxCrossEntropyKernels.ForwardBackward", 0 },
        { "OptimizerKernels.RmsProp", 0 },
        { "OptimizerKernels.Adam", 0 },
        { "OptimizerKernels.Sgd", 0 },
        { "OptimizerKernels.SgdMomentum", 0 },
        { "FusedStepKernels.HiddenForwardTiled", 4096 },
        { "FusedStepKernels.TailPerGroup.AlgorithmsGroupSum", 80 },
        { "FusedStepKernels.TailPerGroup.SharedMemoryGroupSum", 4160 },
        { "FusedStepKernels.GradientsUpdateTiled", 4096 },
        { "FusedStepKernels.HiddenForwardPanel", 0 },
        { "FusedStepKernels.TailPerRow", 0 },
        { "FusedStepKernels.GradientsUpdatePanel", 0 },
        { "ConvolutionKernels.Unroll", 0 },
        { "ConvolutionKernels.Fold", 0 },
        { "ConvolutionKernels.SumPartials", 0 },
        { "PoolingKernels.MaxForward", 0 },
        { "PoolingKernels.MaxBackward", 0 },
        { "PoolingKernels.Copy", 0 },
        { "ImplicitConvolutionKernels.ForwardPanel", 0 },
        { "ImplicitConvolutionKernels.BackwardInputPanel", 0 },
        { "ImplicitConvolutionKernels.BackwardParametersPanel", 0 },
        { "ImplicitConvolutionKernels.ForwardTiled", 8192 },
        { "ImplicitConvolutionKernels.BackwardInputTiled", 8192 },
        { "ImplicitConvolutionKernels.BackwardParametersTiled", 8192 },
    };

    [Fact]
    public void This_ilgpu_still_has_the_setter_the_override_reaches() => Assert.True(KernelInformation.IsAvailable);

    [Fact]
    public void Every_kernel_of_the_inventory_is_listed_here() =>
        Assert.Equal(Expected.Select(row => (string)row[0]).Order(), KernelInventory.All.Select(k => k.Name).Order());

    [Theory]
    [MemberData(nameof(Expected))]
    public void The_compiled_shared_memory_is_ptxas_figure(string kernel, int bytes) =>
        Assert.Equal(bytes, KernelInventory.All.Single(k => k.Name == kernel).SharedMemoryBytes);
}
