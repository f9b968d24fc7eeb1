using MnistGpu.Engine.Backends;
using MnistGpu.Engine.Verification;
using MnistGpu.Tests.Support;

namespace MnistGpu.Tests.Kernels;

/// <summary>
/// Every operation, and two real training steps, on a device against the double-precision
/// reference: the checks of <see cref="DeviceVerifier"/> (what <c>mnistgpu verify</c> runs), at
/// the training shapes and at shapes that are no multiple of any tile, down to a batch of one.
/// Subclasses supply the device; a device that is absent makes every check report as skipped.
/// </summary>
public abstract class KernelAgreementTests(AcceleratorFixture fixture)
{
    public static TheoryData<string> Checks => new(DeviceVerifier.CheckNames);

    [SkippableTheory]
    [MemberData(nameof(Checks))]
    public void Device_matches_the_reference(string check)
    {
        Skip.If(fixture.Backend is null, fixture.Unavailable);
        using var verifier = new DeviceVerifier(fixture.Backend, Bundled.Mnist.Train);
        var result = verifier.Run(check);
        Assert.True(result.Passed, result.ToString());
    }
}

/// <summary>One device shared by a test class, or the reason it is not there.</summary>
public abstract class AcceleratorFixture : IDisposable
{
    protected AcceleratorFixture(Func<ITrainingBackend> open)
    {
        try
        {
            Backend = open();
        }
        catch (MnistGpu.Engine.UserInputException e)
        {
            Unavailable = e.Message;
        }
    }

    public ITrainingBackend? Backend { get; }

    public string? Unavailable { get; }

    public void Dispose()
    {
        Backend?.Dispose();
        GC.SuppressFinalize(this);
    }

    /// <summary>Opens a device by its --device name through the engine's own catalogue.</summary>
    protected static ITrainingBackend OpenByName(string spec)
    {
        using var catalog = new MnistGpu.Engine.Devices.DeviceCatalog();
        return catalog.Open(spec, out _);
    }
}
