using System.Numerics.Tensors;
using MnistGpu.Engine.Backends;

namespace MnistGpu.Engine.Operations.Gather;

/// <summary>
/// A batch assembled from the device-resident split, so no image crosses the bus after the one
/// upload: x (B,P) = images[order[start + b]] scaled as <see cref="BatchSource.Scaling"/> says
/// (byte / 255 by default), batchLabels (B) = labels[order[start + b]].
/// </summary>
public sealed partial class GatherOperation : Operation
{
    internal static KernelEntry Kernel { get; } = KernelInventory.OperationKernel(typeof(GatherKernels), nameof(GatherKernels.Batch));

    public required BatchSource Source { get; init; }

    /// <summary>x (B,P).</summary>
    public required DeviceArray<float> X { get; init; }

    /// <summary>The batch's labels (B).</summary>
    public required DeviceArray<int> BatchLabels { get; init; }

    /// <summary>The batch's first row in the order; with <see cref="Batch"/> what changes from step to step.</summary>
    public required int Start { get; set; }

    /// <summary>B: rows in this batch.</summary>
    public required int Batch { get; set; }

    public override string Label => "gather";

    /// <summary>The gather of this step's rows: <paramref name="last"/> again when it filled the same arrays from the same split (a step allocates none), else a new one, kept in <paramref name="last"/>.</summary>
    internal static GatherOperation Reuse(ref GatherOperation? last, BatchSource source, int start, int batch, DeviceArray<float> x, DeviceArray<int> batchLabels)
    {
        if (last is null || !ReferenceEquals(last.Source, source) || !ReferenceEquals(last.X, x) || !ReferenceEquals(last.BatchLabels, batchLabels))
            last = new GatherOperation { Source = source, X = x, BatchLabels = batchLabels, Start = start, Batch = batch };
        (last.Start, last.Batch) = (start, batch);
        return last;
    }

    internal override void RunReference()
    {
        Span<double> images = Precise(Source.Images), labels = Precise(Source.Labels), order = Precise(Source.Order), x = Precise(X), batchLabels = Precise(BatchLabels);
        int pixels = Source.Pixels;
        var scaling = Source.Scaling;
        for (int b = 0; b < Batch; b++)
        {
            int sample = (int)order[Start + b];
            for (int p = 0; p < pixels; p++)
                x[b * pixels + p] = scaling.Apply(images[sample * pixels + p]);
            batchLabels[b] = labels[sample];
        }
    }

    internal override void RunHost(ITrainingBackend host)
    {
        Span<byte> images = OnHost(Source.Images), labels = OnHost(Source.Labels);
        Span<int> order = OnHost(Source.Order), batchLabels = OnHost(BatchLabels);
        Span<float> x = OnHost(X);
        int pixels = Source.Pixels;
        var scaling = Source.Scaling;
        for (int row = 0; row < Batch; row++)
        {
            int sample = order[Start + row];
            var target = x.Slice(row * pixels, pixels);
            TensorPrimitives.ConvertChecked<byte, float>(images.Slice(sample * pixels, pixels), target);
            TensorPrimitives.Divide(target, 255f, target);
            scaling.ApplyInPlace(target);
            batchLabels[row] = labels[sample];
        }
    }

    internal override void RunIlgpu(IlgpuBackend device) => device.Launch(
        Kernel,
        Batch * Source.Pixels,
        new GatherArguments
        {
            Images = View(Source.Images),
            Labels = View(Source.Labels),
            Order = View(Source.Order),
            X = View(X).SubView(0, Batch * Source.Pixels),
            BatchLabels = View(BatchLabels).SubView(0, Batch),
            Start = Start,
            Pixels = Source.Pixels,
            Mean = Source.Scaling.Mean,
            InverseDeviation = Source.Scaling.InverseDeviation,
        },
        Label);
}
