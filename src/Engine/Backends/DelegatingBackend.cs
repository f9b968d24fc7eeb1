using System.Numerics;

namespace MnistGpu.Engine.Backends;

/// <summary>
/// A backend that passes every call to another one: the base for decorators that watch or
/// alter some operations (profiling, fault injection in tests). The inner backend stays with
/// its owner: disposing the decorator does not dispose it.
/// </summary>
public abstract class DelegatingBackend(ITrainingBackend inner) : ITrainingBackend
{
    protected ITrainingBackend Inner { get; } = inner;

    public virtual string DeviceName => Inner.DeviceName;

    public long AvailableMemoryBytes => Inner.AvailableMemoryBytes;

    public DeviceArray<T> Allocate<T>(int length)
        where T : unmanaged, INumber<T> => Inner.Allocate<T>(length);

    public DeviceArray<T> Slice<T>(DeviceArray<T> array, int offset, int length)
        where T : unmanaged, INumber<T> => Inner.Slice(array, offset, length);

    public void Upload<T>(ReadOnlySpan<T> source, DeviceArray<T> target)
        where T : unmanaged, INumber<T> => Inner.Upload(source, target);

    public void Download<T>(DeviceArray<T> source, Span<T> target)
        where T : unmanaged, INumber<T> => Inner.Download(source, target);

    public virtual void GatherBatch(DeviceArray<byte> images, DeviceArray<byte> labels, DeviceArray<int> order, int start, DeviceArray<float> x, DeviceArray<int> batchLabels, int batch, int pixels) =>
        Inner.GatherBatch(images, labels, order, start, x, batchLabels, batch, pixels);

    public virtual void DenseForward(DenseParameters layer, DeviceArray<float> x, DeviceArray<float> y, int batch, bool relu) =>
        Inner.DenseForward(layer, x, y, batch, relu);

    public virtual void DenseBackwardInput(DenseParameters layer, DeviceArray<float> dy, DeviceArray<float> activation, DeviceArray<float> dx, int batch) =>
        Inner.DenseBackwardInput(layer, dy, activation, dx, batch);

    public virtual void DenseBackwardParameters(DenseParameters gradients, DeviceArray<float> x, DeviceArray<float> dy, int batch) =>
        Inner.DenseBackwardParameters(gradients, x, dy, batch);

    public virtual void SoftmaxCrossEntropyForward(DeviceArray<float> logits, DeviceArray<int> labels, DeviceArray<float> probabilities, DeviceArray<float> losses, DeviceArray<int> predictions, int outputOffset, int batch, int classes) =>
        Inner.SoftmaxCrossEntropyForward(logits, labels, probabilities, losses, predictions, outputOffset, batch, classes);

    public virtual void SoftmaxCrossEntropyForwardBackward(DeviceArray<float> logits, DeviceArray<int> labels, DeviceArray<float> logitGradients, DeviceArray<float> losses, DeviceArray<int> predictions, int outputOffset, int batch, int classes) =>
        Inner.SoftmaxCrossEntropyForwardBackward(logits, labels, logitGradients, losses, predictions, outputOffset, batch, classes);

    public virtual void RmsPropUpdate(DeviceArray<float> weights, DeviceArray<float> gradients, DeviceArray<float> meanSquares, float learningRate, float rho, float epsilon) =>
        Inner.RmsPropUpdate(weights, gradients, meanSquares, learningRate, rho, epsilon);

    public virtual void Synchronize() => Inner.Synchronize();

    public void Dispose() => GC.SuppressFinalize(this);
}
