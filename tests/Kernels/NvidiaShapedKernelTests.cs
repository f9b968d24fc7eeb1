using ILGPU.Runtime.CPU;
using MnistGpu.Engine.Backends;
using MnistGpu.Engine.Verification;
using MnistGpu.Tests.Support;

namespace MnistGpu.Tests.Kernels;

public sealed class NvidiaShapedFixture() : AcceleratorFixture(() => IlgpuBackend.CreateCpuAccelerator(CPUDevice.Nvidia, profile: DeviceProfile.NvidiaH200));

/// <summary>
/// The GPU code path without a GPU: launches planned for an NVIDIA H200 (warp 32, groups of up to
/// 1024 threads, 48 KiB shared memory, 132 multiprocessors), so the shared-memory tiled matrix
/// multiply with its barriers and 256-thread groups, run on ILGPU's CPU accelerator configured
/// like an NVIDIA device. Every simulated thread is an OS thread here, so the small shapes only.
/// </summary>
public sealed class NvidiaShapedKernelTests(NvidiaShapedFixture fixture) : IClassFixture<NvidiaShapedFixture>
{
    public static TheoryData<string> Checks => new(DeviceVerifier.Checks.Where(c => c.IsSmall).Select(c => c.Name));

    [Fact]
    public void The_plan_is_the_gpu_plan()
    {
        var backend = (IlgpuBackend)fixture.Require();
        Assert.Equal([MatMulVariant.SharedMemoryTiled], backend.Launches.Variants);
        Assert.Equal(KernelLayout.Tiled, backend.Launches.ConvolutionLayout);
        Assert.Equal(Enum.GetNames<MatMulVariant>(), backend.MatMulVariants);
    }

    [Theory]
    [MemberData(nameof(Checks))]
    public void Device_matches_the_reference(string check)
    {
        using var verifier = new DeviceVerifier(fixture.Require(), Bundled.Mnist.Train);
        var result = verifier.Run(check);
        Assert.True(result.Passed, result.ToString());
    }
}

/// <summary>Every variant, the grid-stride ones with NVIDIA-sized groups too, through the small matrix-product checks.</summary>
public sealed class NvidiaShapedVariantTests(NvidiaShapedFixture fixture)
    : MatMulVariantTests(fixture, smallChecksOnly: true), IClassFixture<NvidiaShapedFixture>
{
    [SkippableTheory]
    [MemberData(nameof(Small))]
    public void Every_variant_matches_the_reference(string variant, string check) => Check(variant, check);
}
