using MnistGpu.Engine.Backends;
using MnistGpu.Engine.Data;
using MnistGpu.Engine.Model;

namespace MnistGpu.Engine.Training;

/// <summary>
/// A split uploaded once to a backend as raw bytes (a quarter of the float size), with the order
/// array that batches are gathered through, and per-sample outputs the kernels write into so
/// that results are read back once per pass rather than once per step.
/// </summary>
internal sealed class DeviceDataset : IDisposable
{
    /// <param name="scaling">How the network reads a pixel byte (its <see cref="NetworkShape.Scaling"/>).</param>
    public DeviceDataset(ITrainingBackend backend, LabeledImages split, int classes, bool keepProbabilities, InputScaling scaling)
    {
        Split = split;
        Images = backend.Allocate<byte>(split.Images.Length);
        Labels = backend.Allocate<byte>(split.Count);
        Order = backend.Allocate<int>(split.Count);
        Losses = backend.Allocate<float>(split.Count);
        Predictions = backend.Allocate<int>(split.Count);
        Probabilities = keepProbabilities ? backend.Allocate<float>(split.Count * classes) : null;
        backend.Upload<byte>(split.Images, Images);
        backend.Upload<byte>(split.Labels, Labels);
        backend.Upload<int>(Enumerable.Range(0, split.Count).ToArray(), Order);
        Source = new BatchSource(Images, Labels, Order, split.Pixels) { Scaling = scaling };
    }

    /// <summary>Adds what the constructor allocates for <paramref name="split"/> to <paramref name="plan"/>.</summary>
    public static MemoryPlan Plan(MemoryPlan plan, LabeledImages split, int classes, bool keepProbabilities)
    {
        string part = $"the {split.Name} set";
        return plan
            .Add<byte>(part, "images and labels", split.Images.LongLength + split.Count)
            .Add<int>(part, "order and predictions", split.Count, count: 2)
            .Add<float>(part, "losses", split.Count)
            .Add<float>(part, "probabilities", keepProbabilities ? (long)split.Count * classes : 0);
    }

    public LabeledImages Split { get; }

    public DeviceArray<byte> Images { get; }

    /// <summary>What batches are gathered from: the images and labels through <see cref="Order"/>.</summary>
    public BatchSource Source { get; }

    public DeviceArray<byte> Labels { get; }

    public DeviceArray<int> Order { get; }

    public DeviceArray<float> Losses { get; }

    public DeviceArray<int> Predictions { get; }

    public DeviceArray<float>? Probabilities { get; }

    public void Dispose()
    {
        Images.Dispose();
        Labels.Dispose();
        Order.Dispose();
        Losses.Dispose();
        Predictions.Dispose();
        Probabilities?.Dispose();
    }
}
