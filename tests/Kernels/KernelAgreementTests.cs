using MnistGpu.Engine.Backends;
using MnistGpu.Engine.Model;
using MnistGpu.Engine.Reference;
using MnistGpu.Tests.Support;

namespace MnistGpu.Tests.Kernels;

/// <summary>
/// Every training operation on a device against the double-precision reference, on random
/// inputs, at the training shapes and at shapes that are no multiple of any tile (down to a
/// batch of one). Subclasses supply the device; the tests are the same for every accelerator.
/// </summary>
public abstract class KernelAgreementTests : IDisposable
{
    // Float sums of up to 784 products of values in [-1, 1] drift from the double sum by ~1e-5;
    // a wrong index or a missed edge is off by far more than this.
    private const double MatMulAbsolute = 1e-4;
    private const double MatMulRelative = 1e-4;

    private readonly ITrainingBackend device;
    private readonly ReferenceBackend reference = new();
    private readonly List<IDisposable> allocated = [];

    protected KernelAgreementTests(ITrainingBackend device) => this.device = device;

    /// <summary>(batch, inputs, outputs): both layers of the training step, the last partial batch, and awkward sizes.</summary>
    public static TheoryData<int, int, int> DenseShapes => new()
    {
        { 128, 784, 512 },
        { 128, 512, 10 },
        { 96, 784, 512 },
        { 1, 784, 512 },
        { 1, 1, 1 },
        { 13, 29, 11 },
        { 7, 5, 3 },
        { 33, 17, 9 },
    };

    [Theory]
    [InlineData(128, 784)]
    [InlineData(1, 784)]
    [InlineData(7, 13)]
    public void GatherBatch_matches_reference(int batch, int pixels)
    {
        var random = new Random(batch * 31 + pixels);
        const int samples = 200;
        var images = RandomArrays.Bytes(random, samples * pixels);
        var labels = RandomArrays.Bytes(random, samples);
        var order = Enumerable.Range(0, samples).ToArray();
        random.Shuffle(order);
        int start = samples - batch - 3;

        var (deviceImages, referenceImages) = Both<byte>(images);
        var (deviceLabels, referenceLabels) = Both<byte>(labels);
        var (deviceOrder, referenceOrder) = Both<int>(order);
        var (deviceX, referenceX) = Zeros<float>(batch * pixels);
        var (deviceBatchLabels, referenceBatchLabels) = Zeros<int>(batch);

        device.GatherBatch(deviceImages, deviceLabels, deviceOrder, start, deviceX, deviceBatchLabels, batch, pixels);
        reference.GatherBatch(referenceImages, referenceLabels, referenceOrder, start, referenceX, referenceBatchLabels, batch, pixels);

        Close.Assert(ReferenceBackend.Span(referenceX), Download(deviceX), 1e-7, 0, "x");
        Assert.Equal(Ints(ReferenceBackend.Span(referenceBatchLabels)), Download(deviceBatchLabels));
    }

    [Theory]
    [MemberData(nameof(DenseShapes))]
    public void DenseForward_with_and_without_relu_matches_reference(int batch, int inputs, int outputs)
    {
        var random = new Random(batch + inputs * 7 + outputs * 13);
        var (deviceLayer, referenceLayer) = Layer(random, inputs, outputs);
        var (deviceX, referenceX) = Both<float>(RandomArrays.Uniform(random, batch * inputs));

        foreach (bool relu in new[] { false, true })
        {
            var (deviceY, referenceY) = Zeros<float>(batch * outputs);
            device.DenseForward(deviceLayer, deviceX, deviceY, batch, relu);
            reference.DenseForward(referenceLayer, referenceX, referenceY, batch, relu);
            var y = Download(deviceY);
            Close.Assert(ReferenceBackend.Span(referenceY), y, MatMulAbsolute, MatMulRelative, $"y (relu {relu})");
            if (relu)
                Assert.All(y, v => Assert.True(v >= 0f));
        }
    }

    [Theory]
    [MemberData(nameof(DenseShapes))]
    public void DenseBackwardInput_matches_reference(int batch, int inputs, int outputs)
    {
        var random = new Random(batch + inputs * 5 + outputs * 11);
        var (deviceLayer, referenceLayer) = Layer(random, inputs, outputs);
        var (deviceDy, referenceDy) = Both<float>(RandomArrays.Uniform(random, batch * outputs));
        // Half the activations are zero, as after a ReLU, so the mask matters.
        var (deviceActivation, referenceActivation) = Both<float>(RandomArrays.Uniform(random, batch * inputs).Select(v => Math.Max(v, 0f)).ToArray());
        var (deviceDx, referenceDx) = Zeros<float>(batch * inputs);

        device.DenseBackwardInput(deviceLayer, deviceDy, deviceActivation, deviceDx, batch);
        reference.DenseBackwardInput(referenceLayer, referenceDy, referenceActivation, referenceDx, batch);

        Close.Assert(ReferenceBackend.Span(referenceDx), Download(deviceDx), MatMulAbsolute, MatMulRelative, "dx");
    }

    [Theory]
    [MemberData(nameof(DenseShapes))]
    public void DenseBackwardParameters_matches_reference(int batch, int inputs, int outputs)
    {
        var random = new Random(batch + inputs * 3 + outputs * 17);
        var (deviceGradients, referenceGradients) = Layer(random, inputs, outputs);
        var (deviceX, referenceX) = Both<float>(RandomArrays.Uniform(random, batch * inputs));
        var (deviceDy, referenceDy) = Both<float>(RandomArrays.Uniform(random, batch * outputs));

        device.DenseBackwardParameters(deviceGradients, deviceX, deviceDy, batch);
        reference.DenseBackwardParameters(referenceGradients, referenceX, referenceDy, batch);

        Close.Assert(ReferenceBackend.Span(referenceGradients.Weights), Download(deviceGradients.Weights), MatMulAbsolute, MatMulRelative, "dW");
        Close.Assert(ReferenceBackend.Span(referenceGradients.Bias), Download(deviceGradients.Bias), MatMulAbsolute, MatMulRelative, "db");
    }

    [Theory]
    [InlineData(128, 10, false)]
    [InlineData(128, 10, true)]
    [InlineData(1, 10, true)]
    [InlineData(5, 3, true)]
    [InlineData(17, 1, true)]
    public void SoftmaxCrossEntropy_matches_reference(int batch, int classes, bool backward)
    {
        var random = new Random(batch * 3 + classes);
        var logits = RandomArrays.Uniform(random, batch * classes, -10f, 10f);
        // A row of huge logits: exp overflows unless the maximum is subtracted first.
        for (int c = 0; c < classes; c++)
            logits[c] = 1000f + c;
        var labels = RandomArrays.Integers(random, batch, classes);
        const int offset = 3;

        var (deviceLogits, referenceLogits) = Both<float>(logits);
        var (deviceLabels, referenceLabels) = Both<int>(labels);
        var (deviceOut, referenceOut) = Zeros<float>(batch * classes);
        var (deviceLosses, referenceLosses) = Zeros<float>(batch + offset);
        var (devicePredictions, referencePredictions) = Zeros<int>(batch + offset);

        if (backward)
        {
            device.SoftmaxCrossEntropyForwardBackward(deviceLogits, deviceLabels, deviceOut, deviceLosses, devicePredictions, offset, batch, classes);
            reference.SoftmaxCrossEntropyForwardBackward(referenceLogits, referenceLabels, referenceOut, referenceLosses, referencePredictions, offset, batch, classes);
        }
        else
        {
            device.SoftmaxCrossEntropyForward(deviceLogits, deviceLabels, deviceOut, deviceLosses, devicePredictions, offset, batch, classes);
            reference.SoftmaxCrossEntropyForward(referenceLogits, referenceLabels, referenceOut, referenceLosses, referencePredictions, offset, batch, classes);
        }

        var losses = Download(deviceLosses);
        Assert.All(losses, l => Assert.True(float.IsFinite(l)));
        Close.Assert(ReferenceBackend.Span(referenceOut), Download(deviceOut), 1e-6, 1e-5, backward ? "dlogits" : "probabilities");
        Close.Assert(ReferenceBackend.Span(referenceLosses), losses, 1e-5, 1e-5, "losses");
        Assert.Equal(Ints(ReferenceBackend.Span(referencePredictions)), Download(devicePredictions));
    }

    [Theory]
    [InlineData(407_050)]
    [InlineData(1)]
    [InlineData(1_001)]
    public void RmsPropUpdate_matches_reference(int count)
    {
        var random = new Random(count);
        var (deviceWeights, referenceWeights) = Both<float>(RandomArrays.Uniform(random, count));
        var (deviceGradients, referenceGradients) = Both<float>(RandomArrays.Uniform(random, count, -0.1f, 0.1f));
        var (deviceMeanSquares, referenceMeanSquares) = Both<float>(RandomArrays.Uniform(random, count, 0f, 0.01f));

        for (int step = 0; step < 3; step++)
        {
            device.RmsPropUpdate(deviceWeights, deviceGradients, deviceMeanSquares, 0.001f, 0.9f, 1e-7f);
            reference.RmsPropUpdate(referenceWeights, referenceGradients, referenceMeanSquares, 0.001f, 0.9f, 1e-7f);
        }

        Close.Assert(ReferenceBackend.Span(referenceWeights), Download(deviceWeights), 1e-6, 1e-6, "weights");
        Close.Assert(ReferenceBackend.Span(referenceMeanSquares), Download(deviceMeanSquares), 1e-9, 1e-5, "mean squares");
    }

    private (DenseParameters Device, DenseParameters Reference) Layer(Random random, int inputs, int outputs)
    {
        var shape = new DenseLayerShape(inputs, outputs, Offset: 0);
        var (deviceParameters, referenceParameters) = Both<float>(RandomArrays.Uniform(random, shape.ParameterCount));
        return (DenseParameters.Within(device, deviceParameters, shape), DenseParameters.Within(reference, referenceParameters, shape));
    }

    private (DeviceArray<T> Device, DeviceArray<T> Reference) Both<T>(T[] values)
        where T : unmanaged, System.Numerics.INumber<T>
    {
        var (onDevice, onReference) = Zeros<T>(values.Length);
        device.Upload<T>(values, onDevice);
        reference.Upload<T>(values, onReference);
        return (onDevice, onReference);
    }

    private (DeviceArray<T> Device, DeviceArray<T> Reference) Zeros<T>(int length)
        where T : unmanaged, System.Numerics.INumber<T>
    {
        var onDevice = device.Allocate<T>(length);
        allocated.Add(onDevice);
        return (onDevice, reference.Allocate<T>(length));
    }

    public void Dispose()
    {
        foreach (var array in allocated)
            array.Dispose();
        reference.Dispose();
        GC.SuppressFinalize(this);
    }

    private T[] Download<T>(DeviceArray<T> array)
        where T : unmanaged, System.Numerics.INumber<T>
    {
        var values = new T[array.Length];
        device.Download(array, values);
        return values;
    }

    private static int[] Ints(ReadOnlySpan<double> values)
    {
        var result = new int[values.Length];
        for (int i = 0; i < values.Length; i++)
            result[i] = (int)values[i];
        return result;
    }
}
