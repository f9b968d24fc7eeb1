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
        var backend = fixture.Require();
        using var verifier = new DeviceVerifier(backend, Bundled.Mnist.Train);
        var result = verifier.Run(check);
        Assert.True(result.Passed, result.ToString());
    }
}

/// <summary>
/// Every matrix-multiply variant a device can run — not only the one its plan picks — through
/// every matrix-product check, as llm.c checks each of its numbered kernels.
/// </summary>
public abstract class MatMulVariantTests(AcceleratorFixture fixture, bool smallChecksOnly = false)
{
    public static TheoryData<string, string> VariantsAndChecks(bool small)
    {
        var data = new TheoryData<string, string>();
        foreach (string variant in Enum.GetNames<MatMulVariant>())
        {
            foreach (var check in DeviceVerifier.Checks.Where(c => c.Kind == CheckKind.MatMul && (!small || c.IsSmall)))
                data.Add(variant, check.Name);
        }

        return data;
    }

    public static TheoryData<string, string> All => VariantsAndChecks(small: false);

    public static TheoryData<string, string> Small => VariantsAndChecks(small: true);

    protected void Check(string variant, string check)
    {
        var backend = fixture.Require();
        Skip.IfNot(backend.MatMulVariants.Contains(variant), $"{backend.DeviceName} cannot run {variant}");
        Assert.False(smallChecksOnly && !DeviceVerifier.Checks.Single(c => c.Name == check).IsSmall, "a large check on a small-checks device");
        backend.MatMulVariantOverride = variant;
        try
        {
            using var verifier = new DeviceVerifier(backend, Bundled.Mnist.Train);
            var result = verifier.Run(check);
            Assert.True(result.Passed, result.ToString());
            Assert.Equal(variant, backend.MatMulImplementation(MnistGpu.Kernels.MatMulProblem.Forward(1, 1, 1, relu: false)));
        }
        finally
        {
            backend.MatMulVariantOverride = null;
        }
    }
}

/// <summary>One device shared by a test class, or the reason it is not there.</summary>
public abstract class AcceleratorFixture : IDisposable
{
    /// <param name="requiredBy">An environment variable that, set to 1 (as CI does), makes an absent device a failure instead of a skip.</param>
    protected AcceleratorFixture(Func<ITrainingBackend> open, string? requiredBy = null)
    {
        Required = requiredBy is not null && Environment.GetEnvironmentVariable(requiredBy) == "1";
        RequiredBy = requiredBy;
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

    private bool Required { get; }

    private string? RequiredBy { get; }

    /// <summary>The device, or a skip — a failure when the environment requires the device.</summary>
    public ITrainingBackend Require()
    {
        if (Backend is null && Required)
            Assert.Fail($"{RequiredBy}=1, but the device is not there: {Unavailable}");
        Skip.If(Backend is null, Unavailable);
        return Backend!;
    }

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
