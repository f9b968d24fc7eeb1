using MnistGpu.Engine.Backends;

namespace MnistGpu.Tests.Kernels;

public sealed class CpuAcceleratorFixture() : AcceleratorFixture(() => IlgpuBackend.CreateCpuAccelerator());

/// <summary>ILGPU's CPU accelerator in its default configuration (16 threads per group): the suite's reference device.</summary>
public sealed class CpuAcceleratorKernelTests(CpuAcceleratorFixture fixture)
    : KernelAgreementTests(fixture), IClassFixture<CpuAcceleratorFixture>;

/// <summary>Both grid-stride variants on the CPU accelerator (its 16-thread groups cannot hold the shared-memory tiles).</summary>
public sealed class CpuAcceleratorVariantTests(CpuAcceleratorFixture fixture)
    : MatMulVariantTests(fixture), IClassFixture<CpuAcceleratorFixture>
{
    [SkippableTheory]
    [MemberData(nameof(All))]
    public void Every_variant_matches_the_reference(string variant, string check) => Check(variant, check);
}
