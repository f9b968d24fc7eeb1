using MnistGpu.Engine.Backends;

namespace MnistGpu.Tests.Kernels;

/// <summary>One ILGPU CPU accelerator (default configuration: 16 threads per group) shared by a test class.</summary>
public sealed class CpuAcceleratorFixture : IDisposable
{
    public IlgpuBackend Backend { get; } = IlgpuBackend.CreateCpuAccelerator();

    public void Dispose() => Backend.Dispose();
}

/// <summary>The kernels on ILGPU's CPU accelerator, the reference device of the suite.</summary>
public sealed class CpuAcceleratorKernelTests(CpuAcceleratorFixture fixture)
    : KernelAgreementTests(fixture.Backend), IClassFixture<CpuAcceleratorFixture>;
