using MnistGpu.Engine.Backends;

namespace MnistGpu.Tests.Kernels;

public sealed class CpuAcceleratorFixture() : AcceleratorFixture(() => IlgpuBackend.CreateCpuAccelerator());

/// <summary>ILGPU's CPU accelerator in its default configuration (16 threads per group): the suite's reference device.</summary>
public sealed class CpuAcceleratorKernelTests(CpuAcceleratorFixture fixture)
    : KernelAgreementTests(fixture), IClassFixture<CpuAcceleratorFixture>;
