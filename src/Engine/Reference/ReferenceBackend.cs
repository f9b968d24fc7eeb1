using System.Numerics;
using MnistGpu.Engine.Backends;

namespace MnistGpu.Engine.Reference;

/// <summary>
/// <see cref="ReferenceMath"/> behind the backend interface: every array is held in double
/// precision on the host, so the same trainer code that drives a device can be replayed here
/// and compared with it.
/// </summary>
public sealed class ReferenceBackend : ITrainingBackend
{
    public string DeviceName => "reference: double-precision host loops";

    /// <summary>The host's; the reference runs the small problems of tests and verification, so its double copies are not planned for.</summary>
    public long AvailableMemoryBytes => HostMemory.AvailableBytes();

    public DeviceArray<T> Allocate<T>(int length)
        where T : unmanaged, INumber<T> =>
        new ReferenceArray<T>(new double[length], 0, length);

    public DeviceArray<T> Slice<T>(DeviceArray<T> array, int offset, int length)
        where T : unmanaged, INumber<T>
    {
        array.RequireRange(offset, length);
        var source = Cast(array);
        return new ReferenceArray<T>(source.Storage, source.Offset + offset, length);
    }

    public void Upload<T>(ReadOnlySpan<T> source, DeviceArray<T> target)
        where T : unmanaged, INumber<T>
    {
        ArgumentOutOfRangeException.ThrowIfNotEqual(source.Length, target.Length);
        var span = Span(target);
        for (int i = 0; i < source.Length; i++)
            span[i] = double.CreateChecked(source[i]);
    }

    public void Download<T>(DeviceArray<T> source, Span<T> target)
        where T : unmanaged, INumber<T>
    {
        ArgumentOutOfRangeException.ThrowIfNotEqual(target.Length, source.Length);
        var span = Span(source);
        for (int i = 0; i < target.Length; i++)
            target[i] = T.CreateChecked(span[i]);
    }

    public void GatherBatch(
        DeviceArray<byte> images, DeviceArray<byte> labels, DeviceArray<int> order, int start,
        DeviceArray<float> x, DeviceArray<int> batchLabels, int batch, int pixels) =>
        ReferenceMath.GatherBatch(Span(images), Span(labels), Span(order), start, Span(x), Span(batchLabels), batch, pixels);

    public void DenseForward(DenseParameters layer, DeviceArray<float> x, DeviceArray<float> y, int batch, bool relu) =>
        ReferenceMath.DenseForward(Span(x), Span(layer.Weights), Span(layer.Bias), Span(y), batch, layer.Inputs, layer.Outputs, relu);

    public void DenseBackwardInput(DenseParameters layer, DeviceArray<float> dy, DeviceArray<float> activation, DeviceArray<float> dx, int batch) =>
        ReferenceMath.DenseBackwardInput(Span(dy), Span(layer.Weights), Span(activation), Span(dx), batch, layer.Inputs, layer.Outputs);

    public void DenseBackwardParameters(DenseParameters gradients, DeviceArray<float> x, DeviceArray<float> dy, int batch) =>
        ReferenceMath.DenseBackwardParameters(Span(x), Span(dy), Span(gradients.Weights), Span(gradients.Bias), batch, gradients.Inputs, gradients.Outputs);

    public void SoftmaxCrossEntropyForward(
        DeviceArray<float> logits, DeviceArray<int> labels, DeviceArray<float> probabilities,
        DeviceArray<float> losses, DeviceArray<int> predictions, int outputOffset, int batch, int classes) =>
        ReferenceMath.SoftmaxCrossEntropy(Span(logits), Span(labels), Span(probabilities), [], Span(losses), Span(predictions), outputOffset, batch, classes);

    public void SoftmaxCrossEntropyForwardBackward(
        DeviceArray<float> logits, DeviceArray<int> labels, DeviceArray<float> logitGradients,
        DeviceArray<float> losses, DeviceArray<int> predictions, int outputOffset, int batch, int classes) =>
        ReferenceMath.SoftmaxCrossEntropy(Span(logits), Span(labels), [], Span(logitGradients), Span(losses), Span(predictions), outputOffset, batch, classes);

    public void RmsPropUpdate(DeviceArray<float> weights, DeviceArray<float> gradients, DeviceArray<float> meanSquares, float learningRate, float rho, float epsilon) =>
        ReferenceMath.RmsPropUpdate(Span(weights), Span(gradients), Span(meanSquares), learningRate, rho, epsilon);

    public void Synchronize()
    {
    }

    public void Dispose()
    {
    }

    /// <summary>The double-precision contents of an array this backend allocated.</summary>
    public static Span<double> Span<T>(DeviceArray<T> array)
        where T : unmanaged, INumber<T>
    {
        var reference = Cast(array);
        return reference.Storage.AsSpan(reference.Offset, reference.Length);
    }

    private static ReferenceArray<T> Cast<T>(DeviceArray<T> array)
        where T : unmanaged, INumber<T> =>
        array as ReferenceArray<T> ?? throw new ArgumentException("the array belongs to another backend", nameof(array));

    private sealed class ReferenceArray<T>(double[] storage, int offset, int length) : DeviceArray<T>(length)
        where T : unmanaged, INumber<T>
    {
        public double[] Storage { get; } = storage;

        public int Offset { get; } = offset;
    }
}
