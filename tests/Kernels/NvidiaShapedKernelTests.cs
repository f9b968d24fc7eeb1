using ILGPU.Runtime.CPU;
using MnistGpu.Engine.Backends;
using MnistGpu.Engine.Verification;
using MnistGpu.Tests.Support;

namespace MnistGpu.Tests.Kernels;

/// <summary>
/// The GPU code path without a GPU: launches planned for an NVIDIA H200 (warp 32, groups of up to
/// 1024 threads, 48 KiB shared memory, 132 multiprocessors), so the shared-memory tiled matrix
/// multiply with its barriers and 256-thread groups, run on ILGPU's CPU accelerator configured
/// like an NVIDIA device. Every simulated thread is an OS thread here, so the small shapes only.
/// </summary>
public sealed class NvidiaShapedKernelTests : IClassFixture<NvidiaShapedKernelTests.Fixture>
{
    private readonly IlgpuBackend backend;

    public NvidiaShapedKernelTests(Fixture fixture) => backend = fixture.Backend;

    public static TheoryData<string> Checks => new(DeviceVerifier.SmallCheckNames);

    [Fact]
    public void The_plan_is_the_gpu_plan()
    {
        Assert.Equal([MatMulVariant.SharedMemoryTiled], backend.Launches.Variants);
    }

    [Theory]
    [MemberData(nameof(Checks))]
    public void Device_matches_the_reference(string check)
    {
        using var verifier = new DeviceVerifier(backend, Bundled.Mnist.Train);
        var result = verifier.Run(check);
        Assert.True(result.Passed, result.ToString());
    }

    public sealed class Fixture : IDisposable
    {
        public IlgpuBackend Backend { get; } = IlgpuBackend.CreateCpuAccelerator(CPUDevice.Nvidia, profile: DeviceProfile.NvidiaH200);

        public void Dispose() => Backend.Dispose();
    }
}
