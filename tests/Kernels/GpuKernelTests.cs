using ILGPU;
using ILGPU.Runtime.OpenCL;
using MnistGpu.Engine;
using MnistGpu.Engine.Backends;
using MnistGpu.Engine.Devices;
using MnistGpu.Engine.Verification;
using MnistGpu.Tests.Support;
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

/// <summary>PoCL with the GPU form of the fused step (tiles, shared-memory sums) instead of its planned panels: the real OpenCL compiler on the kernels NVIDIA's OpenCL driver would get.</summary>
public sealed class OpenClTiledFusedFixture() : AcceleratorFixture(OpenTiled, requiredBy: "MNISTGPU_REQUIRE_OPENCL")
{
    private static IlgpuBackend OpenTiled()
    {
        NativeDrivers.Register();
        if (NativeDrivers.Problem("OpenCL") is string problem)
            throw new UserInputException($"no OpenCL runtime: {problem}");
        var context = IlgpuContexts.Create(builder => builder.OpenCL(_ => true));
        var device = context.Devices.OfType<CLDevice>().FirstOrDefault();
        if (device is null)
        {
            context.Dispose();
            throw new UserInputException("the OpenCL runtime lists no device");
        }

        if (!device.Capabilities.GenericAddressSpace)
            GenericAddressSpaceOverride.Apply(device);
        return new IlgpuBackend(context, device, "opencl:0 with the tiled fused kernels", fusedVariant: FusedVariant.Tiled);
    }
}

[Collection(OpenClRuntime.Name)]
public sealed class OpenClTiledFusedTests(OpenClTiledFusedFixture fixture) : IClassFixture<OpenClTiledFusedFixture>
{
    public static TheoryData<string> Checks => new(DeviceVerifier.Checks.Where(c => c.Kind == CheckKind.FusedStep).Select(c => c.Name));

    [SkippableTheory]
    [MemberData(nameof(Checks))]
    public void The_tiled_fused_step_matches_the_composition(string check)
    {
        using var verifier = new DeviceVerifier(fixture.Require(), Bundled.Mnist.Train);
        var result = verifier.Run(check);
        Assert.True(result.Passed, result.ToString());
    }
}
