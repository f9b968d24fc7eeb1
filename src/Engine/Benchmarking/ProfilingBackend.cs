using System.Diagnostics;
using MnistGpu.Engine.Backends;

namespace MnistGpu.Engine.Benchmarking;

/// <summary>
/// Wraps a backend and times every training operation on it, waiting for the device before and
/// after each one so that asynchronous work is charged to the operation that issued it. The
/// waiting changes the total, so use it for a breakdown, never for the epoch time itself.
/// </summary>
public sealed class ProfilingBackend(ITrainingBackend inner) : DelegatingBackend(inner)
{
    private readonly Dictionary<string, (int Calls, TimeSpan Time)> totals = [];

    /// <summary>Operation label → (calls, total time), in first-call order.</summary>
    public IReadOnlyDictionary<string, (int Calls, TimeSpan Time)> Totals => totals;

    public void Reset() => totals.Clear();

    public override void GatherBatch(DeviceArray<byte> images, DeviceArray<byte> labels, DeviceArray<int> order, int start, DeviceArray<float> x, DeviceArray<int> batchLabels, int batch, int pixels) =>
        Time("gather", () => Inner.GatherBatch(images, labels, order, start, x, batchLabels, batch, pixels));

    public override void DenseForward(DenseParameters layer, DeviceArray<float> x, DeviceArray<float> y, int batch, bool relu) =>
        Time($"dense forward {layer.Inputs}->{layer.Outputs}{(relu ? " +ReLU" : "")}", () => Inner.DenseForward(layer, x, y, batch, relu));

    public override void DenseBackwardInput(DenseParameters layer, DeviceArray<float> dy, DeviceArray<float> activation, DeviceArray<float> dx, int batch) =>
        Time($"dense backward input {layer.Outputs}->{layer.Inputs} +ReLU mask", () => Inner.DenseBackwardInput(layer, dy, activation, dx, batch));

    public override void DenseBackwardParameters(DenseParameters gradients, DeviceArray<float> x, DeviceArray<float> dy, int batch) =>
        Time($"dense backward parameters {gradients.Inputs}->{gradients.Outputs}", () => Inner.DenseBackwardParameters(gradients, x, dy, batch));

    public override void SoftmaxCrossEntropyForward(DeviceArray<float> logits, DeviceArray<int> labels, DeviceArray<float> probabilities, DeviceArray<float> losses, DeviceArray<int> predictions, int outputOffset, int batch, int classes) =>
        Time("softmax-cross-entropy forward", () => Inner.SoftmaxCrossEntropyForward(logits, labels, probabilities, losses, predictions, outputOffset, batch, classes));

    public override void SoftmaxCrossEntropyForwardBackward(DeviceArray<float> logits, DeviceArray<int> labels, DeviceArray<float> logitGradients, DeviceArray<float> losses, DeviceArray<int> predictions, int outputOffset, int batch, int classes) =>
        Time("softmax-cross-entropy forward+backward", () => Inner.SoftmaxCrossEntropyForwardBackward(logits, labels, logitGradients, losses, predictions, outputOffset, batch, classes));

    public override void RmsPropUpdate(DeviceArray<float> weights, DeviceArray<float> gradients, DeviceArray<float> meanSquares, float learningRate, float rho, float epsilon) =>
        Time("rmsprop", () => Inner.RmsPropUpdate(weights, gradients, meanSquares, learningRate, rho, epsilon));

    private void Time(string label, Action operation)
    {
        Inner.Synchronize();
        long start = Stopwatch.GetTimestamp();
        operation();
        Inner.Synchronize();
        var elapsed = Stopwatch.GetElapsedTime(start);
        totals[label] = totals.TryGetValue(label, out var total) ? (total.Calls + 1, total.Time + elapsed) : (1, elapsed);
    }
}
