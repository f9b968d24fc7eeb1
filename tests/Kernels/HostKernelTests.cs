using MnistGpu.Engine.Backends;
using MnistGpu.Engine.Backends.Host;
using MnistGpu.Engine.Verification;
using MnistGpu.Tests.Support;

namespace MnistGpu.Tests.Kernels;

public sealed class HostFixture() : AcceleratorFixture(() => new HostBackend());

/// <summary>The host SIMD backend against the double-precision reference: every check the accelerators pass.</summary>
public sealed class HostKernelTests(HostFixture fixture)
    : KernelAgreementTests(fixture), IClassFixture<HostFixture>;

/// <summary>
/// The host SIMD backend against ILGPU's kernels on the CPU accelerator: the same inputs through
/// both, every operation at every shape and two training steps, within the same tolerances.
/// </summary>
public sealed class HostAgainstCpuAcceleratorTests : IDisposable
{
    private readonly HostBackend host = new(threads: 2);
    private readonly IlgpuBackend kernels = IlgpuBackend.CreateCpuAccelerator();

    public static TheoryData<string> Checks => new(DeviceVerifier.CheckNames);

    public void Dispose()
    {
        host.Dispose();
        kernels.Dispose();
    }

    [Theory]
    [MemberData(nameof(Checks))]
    public void Host_matches_the_ilgpu_kernels(string check)
    {
        using var verifier = new DeviceVerifier(host, Bundled.Mnist.Train, against: kernels);
        var result = verifier.Run(check);
        Assert.True(result.Passed, result.ToString());
    }
}
