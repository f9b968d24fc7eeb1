namespace MnistGpu.Tests.Kernels;

public sealed class CudaFixture() : AcceleratorFixture(() => OpenByName("cuda"));

/// <summary>The first usable OpenCL device: in CI, PoCL (set MNISTGPU_REQUIRE_OPENCL=1 there, so its absence fails).</summary>
public sealed class OpenClFixture() : AcceleratorFixture(() => OpenByName("opencl"), requiredBy: "MNISTGPU_REQUIRE_OPENCL");

/// <summary>The first usable CUDA GPU, when this machine has one; otherwise every check is skipped with the reason.</summary>
public sealed class CudaKernelTests(CudaFixture fixture)
    : KernelAgreementTests(fixture), IClassFixture<CudaFixture>;

/// <summary>
/// Tests that compile or run kernels through the OpenCL runtime share one device and run alone:
/// PoCL gave zeros now and then, and once crashed the test host, while several of its contexts
/// compiled and ran at once in parallel tests (one process of the program uses one).
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class OpenClRuntime : ICollectionFixture<OpenClFixture>
{
    public const string Name = "OpenCL runtime";
}

/// <summary>The first usable OpenCL device, when this machine has one; otherwise every check is skipped with the reason.</summary>
[Collection(OpenClRuntime.Name)]
public sealed class OpenClKernelTests(OpenClFixture fixture) : KernelAgreementTests(fixture);

public sealed class CudaVariantTests(CudaFixture fixture) : MatMulVariantTests(fixture), IClassFixture<CudaFixture>
{
    [SkippableTheory]
    [MemberData(nameof(All))]
    public void Every_variant_matches_the_reference(string variant, string check) => Check(variant, check);
}

[Collection(OpenClRuntime.Name)]
public sealed class OpenClVariantTests(OpenClFixture fixture) : MatMulVariantTests(fixture)
{
    [SkippableTheory]
    [MemberData(nameof(All))]
    public void Every_variant_matches_the_reference(string variant, string check) => Check(variant, check);
}
