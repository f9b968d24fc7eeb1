using ILGPU;
using ILGPU.Runtime.OpenCL;
using MnistGpu.Engine;
using MnistGpu.Engine.Backends;
using MnistGpu.Engine.Devices;
using MnistGpu.Engine.Verification;
using MnistGpu.Tests.Support;
namespace MnistGpu.Tests.Kernels;

public sealed class CudaFixture() : AcceleratorFixture(() => OpenByName("cuda"));

/// <summary>PoCL ("Portable Computing Language"), Debian's OpenCL on the CPU: in CI set MNISTGPU_REQUIRE_OPENCL=1, so its absence fails.</summary>
public sealed class OpenClFixture() : AcceleratorFixture(() => OpenByName("opencl:portable"), requiredBy: "MNISTGPU_REQUIRE_OPENCL");

/// <summary>
/// Mesa's rusticl on llvmpipe (RUSTICL_ENABLE=llvmpipe): OpenCL compiled through SPIR-V and NIR,
/// the route of Mesa's Intel and AMD GPU drivers, and strict where PoCL is lenient (it refused a
/// by-value argument with trailing padding). In CI set MNISTGPU_REQUIRE_RUSTICL=1.
/// </summary>
public sealed class RusticlFixture() : AcceleratorFixture(() => OpenByName("opencl:rusticl"), requiredBy: "MNISTGPU_REQUIRE_RUSTICL");

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

/// <summary>PoCL, when this machine has it; otherwise every check is skipped with the reason.</summary>
[Collection(OpenClRuntime.Name)]
public sealed class OpenClKernelTests(OpenClFixture fixture) : KernelAgreementTests(fixture);

/// <summary>rusticl, when this machine has it (and RUSTICL_ENABLE=llvmpipe); otherwise every check is skipped with the reason.</summary>
[Collection(OpenClRuntime.Name)]
public sealed class RusticlKernelTests(RusticlFixture fixture) : KernelAgreementTests(fixture), IClassFixture<RusticlFixture>;

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

[Collection(OpenClRuntime.Name)]
public sealed class RusticlVariantTests(RusticlFixture fixture) : MatMulVariantTests(fixture), IClassFixture<RusticlFixture>
{
    [SkippableTheory]
    [MemberData(nameof(All))]
    public void Every_variant_matches_the_reference(string variant, string check) => Check(variant, check);
}

/// <summary>PoCL with the GPU form of the fused step (tiles, shared-memory sums) instead of its planned panels: the real OpenCL compiler on the kernels NVIDIA's OpenCL driver would get.</summary>
public sealed class OpenClTiledFusedFixture() : AcceleratorFixture(OpenTiled, requiredBy: "MNISTGPU_REQUIRE_OPENCL")
{
    private static IlgpuBackend OpenTiled()
    {
        NativeDrivers.Register();
        if (NativeDrivers.Problem("OpenCL") is string problem)
            throw new UserInputException($"no OpenCL runtime: {problem}");
        var context = IlgpuContexts.Create(builder => builder.OpenCL(_ => true));
        var device = context.Devices.OfType<CLDevice>().FirstOrDefault(d => d.PlatformName.Contains("Portable Computing Language", StringComparison.Ordinal));
        if (device is null)
        {
            context.Dispose();
            throw new UserInputException("the OpenCL runtime lists no PoCL device");
        }

        if (!device.Capabilities.GenericAddressSpace)
            GenericAddressSpaceOverride.Apply(device);
        return new IlgpuBackend(context, device, "PoCL with the tiled fused kernels", layout: KernelLayout.Tiled);
    }
}

[Collection(OpenClRuntime.Name)]
public sealed class OpenClTiledFusedTests(OpenClTiledFusedFixture fixture) : IClassFixture<OpenClTiledFusedFixture>
{
    /// <summary>The fused steps, and the convolutions, whose implicit products take the fused step's form.</summary>
    public static TheoryData<string> Checks => new(DeviceVerifier.Checks.Where(c => c.Kind is CheckKind.FusedStep or CheckKind.Convolution).Select(c => c.Name));

    [SkippableTheory]
    [MemberData(nameof(Checks))]
    public void The_tiled_fused_step_matches_the_composition(string check)
    {
        using var verifier = new DeviceVerifier(fixture.Require(), Bundled.Mnist.Train);
        var result = verifier.Run(check);
        Assert.True(result.Passed, result.ToString());
    }
}
