using MnistGpu.Engine.Backends;
using MnistGpu.Engine.Operations.Softmax;
using MnistGpu.Engine.Reference;
using MnistGpu.Engine.Verification;
using MnistGpu.Tests.Support;

namespace MnistGpu.Tests.Engine.Verification;

public sealed class DeviceVerifierTests
{
    [Fact]
    public void The_reference_verifies_against_itself_within_float_rounding()
    {
        using var reference = new ReferenceBackend();
        using var verifier = new DeviceVerifier(reference, Bundled.Mnist.Train);
        var result = verifier.Run("dense backward parameters 13x29x11");
        Assert.True(result.Passed, result.ToString());
        // Results come back as float, so only their rounding remains.
        Assert.InRange(result.MaxAbsoluteError, 0, 1e-6);
    }

    [Fact]
    public void A_device_that_is_off_by_one_thousandth_in_one_element_fails_and_is_named()
    {
        using var reference = new ReferenceBackend();
        using var skewed = new SkewedForward(reference);
        using var verifier = new DeviceVerifier(skewed, Bundled.Mnist.Train);

        var result = verifier.Run("dense forward 13x29x11");

        Assert.False(result.Passed);
        Assert.StartsWith("y[5] is ", result.Problem);
        Assert.Equal(1e-3, result.MaxAbsoluteError, 1e-6);
        Assert.True(verifier.Run("dense backward input 13x29x11").Passed);
    }

    [Fact]
    public void A_check_whose_device_throws_is_a_failing_row_and_the_next_check_runs()
    {
        using var reference = new ReferenceBackend();
        using var failing = new FailingSoftmax(reference);
        using var verifier = new DeviceVerifier(failing, Bundled.Mnist.Train);

        var results = DeviceVerifier.CheckNames.Zip(verifier.RunAll()).ToDictionary(pair => pair.First, pair => pair.Second);

        Assert.Equal(DeviceVerifier.CheckNames.Count, results.Count);
        var failed = results["softmax-cross-entropy forward 5x3"];
        Assert.Equal("softmax-cross-entropy forward 5x3", failed.Operation);
        Assert.Equal("the device failed: InvalidOperationException: CL_INVALID_ARG_SIZE, as a strict driver says it", failed.Problem);
        Assert.True(results["dense forward 1x1x1"].Passed);
    }

    public static TheoryData<string> Checks => new(DeviceVerifier.CheckNames);

    /// <summary>Each check runs to the end and compares something: the reference against itself differs only by float rounding.</summary>
    [Theory]
    [MemberData(nameof(Checks))]
    public void Every_check_runs_and_the_reference_passes_it(string check)
    {
        using var reference = new ReferenceBackend();
        using var verifier = new DeviceVerifier(reference, Bundled.Mnist.Train);
        var result = verifier.Run(check);
        Assert.True(result.Passed, result.ToString());
        Assert.InRange(result.MaxAbsoluteError, 0, 1e-5);
    }

    [Fact]
    public void Check_names_are_unique_and_an_unknown_one_is_refused()
    {
        Assert.Contains("dense forward 128x784x512", DeviceVerifier.CheckNames);
        Assert.Contains("training: 2 steps of 784-512-10, rmsprop (128 + 72 digits)", DeviceVerifier.CheckNames);
        Assert.Equal(DeviceVerifier.CheckNames.Count, DeviceVerifier.CheckNames.Distinct().Count());
        using var verifier = new DeviceVerifier(new ReferenceBackend(), Bundled.Mnist.Train);
        Assert.Throws<ArgumentException>(() => verifier.Run("no such check"));
    }

    /// <summary>The reference, except that the softmax forward throws, as a launch a driver refuses.</summary>
    private sealed class FailingSoftmax(ReferenceBackend inner) : DelegatingBackend(inner)
    {
        public override void Run(Operation operation)
        {
            if (operation is SoftmaxCrossEntropyOperation { Backward: false })
                throw new InvalidOperationException("CL_INVALID_ARG_SIZE, as a strict driver says it");
            Inner.Run(operation);
        }
    }

    /// <summary>The reference, except that every dense forward output's element 5 is 1e-3 too large.</summary>
    private sealed class SkewedForward(ReferenceBackend inner) : DelegatingBackend(inner)
    {
        public override void DenseForward(DenseParameters layer, DeviceArray<float> x, DeviceArray<float> y, int batch, bool relu)
        {
            Inner.DenseForward(layer, x, y, batch, relu);
            ReferenceBackend.Span(y)[5] += 1e-3;
        }
    }
}
