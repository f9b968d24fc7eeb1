using ILGPU;

namespace MnistGpu.Engine.Operations.Gather;

/// <summary>
/// The gather's argument: the device-resident split (images (N,P) uint8, labels (N)), the epoch's
/// order (N), and the batch's x (B,P) and labels (B), whose lengths give B.
/// </summary>
public readonly struct GatherArguments
{
    public ArrayView<byte> Images { get; init; }
    public ArrayView<byte> Labels { get; init; }
    public ArrayView<int> Order { get; init; }
    public ArrayView<float> X { get; init; }
    public ArrayView<int> BatchLabels { get; init; }
    public int Start { get; init; }
    public int Pixels { get; init; }

    /// <summary>The network's input scaling (<c>Model.InputScaling</c>): 0 and 1 leave byte / 255 as it is, to the bit.</summary>
    public float Mean { get; init; }
    public float InverseDeviation { get; init; }
}

public static class GatherKernels
{
    /// <summary>
    /// Assembles a mini-batch from the device-resident dataset, so no image crosses the bus
    /// after the one upload.
    /// images (N,P) uint8, labels (N), order (N) → x (B,P) = (images[order[start + b]] / 255 − mean) · inverseDeviation,
    /// batchLabels (B) = labels[order[start + b]]
    /// </summary>
    public static void Batch(GatherArguments a)
    {
        int total = a.X.IntLength, pixels = a.Pixels;
        for (int i = Grid.GlobalIndex.X, step = Grid.DimX * Group.DimX; i < total; i += step)
        {
            int row = i / pixels;
            int pixel = i - row * pixels;
            int sample = a.Order[a.Start + row];
            a.X[i] = ((a.Images[sample * pixels + pixel] / 255f) - a.Mean) * a.InverseDeviation;
            if (pixel == 0)
                a.BatchLabels[row] = a.Labels[sample];
        }
    }
}
