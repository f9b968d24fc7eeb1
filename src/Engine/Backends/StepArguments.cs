using MnistGpu.Kernels;

namespace MnistGpu.Engine.Backends;

/// <summary>
/// Where a batch is gathered from: a split resident on the device as bytes, and the order in
/// which this epoch visits it. images (N,P) uint8, labels (N) uint8, order (N); each pixel byte
/// becomes x as the network's <see cref="Scaling"/> says.
/// </summary>
public sealed record BatchSource(DeviceArray<byte> Images, DeviceArray<byte> Labels, DeviceArray<int> Order, int Pixels)
{
    public Data.InputScaling Scaling { get; init; } = Data.InputScaling.Unit;
}

/// <summary>A batch read where it lies: rows [<see cref="Start"/>, start + batch) of <see cref="Source"/>'s order, its labels gathered into <see cref="Labels"/>.</summary>
public readonly record struct BatchImages(BatchSource Source, int Start, DeviceArray<int> Labels);

/// <summary>
/// Where softmax-cross-entropy leaves each sample's loss and prediction: at
/// <see cref="Offset"/> + row of arrays as long as the pass, so they are read back once per pass.
/// </summary>
public readonly record struct SampleOutputs(DeviceArray<float> Losses, DeviceArray<int> Predictions, int Offset);

/// <summary>An optimizer's state on the device: 0, 1 or 2 arrays of the parameters' layout.</summary>
public sealed record OptimizerState(IReadOnlyList<DeviceArray<float>> Arrays);
