using MnistGpu.Engine.Backends;

namespace MnistGpu.Engine.Operations.Gather;

/// <summary>The gather's rows in <c>mnistgpu verify</c>: a shuffled order, a batch starting inside it; pixels as byte / 255, and standardised (MNIST's mean and deviation).</summary>
public sealed partial class GatherOperation
{
    internal static IReadOnlyList<OperationCheck> Checks { get; } = [Rows(128, 784), Rows(1, 784), Rows(7, 13), Rows(7, 13, new Data.InputScaling(0.1307f, 0.3081f))];

    /// <param name="scaling">Unit (byte / 255) when null.</param>
    private static OperationCheck Rows(int batch, int pixels, Data.InputScaling? scaling = null) => new(
        $"gather {batch}x{pixels}{(scaling is null ? "" : " standardized")}",
        Math.Max(batch, pixels),
        // A standardised pixel reaches 2.8: a few float roundings of it are still within 1e-6.
        scaling is null ? 1e-7 : 1e-6,
        0,
        pair =>
        {
            var random = new Random(batch * 31 + pixels);
            const int samples = 200;
            var order = Enumerable.Range(0, samples).ToArray();
            random.Shuffle(order);
            int start = samples - batch - 3;
            var images = new byte[samples * pixels];
            random.NextBytes(images);
            var labelValues = new byte[samples];
            random.NextBytes(labelValues);
            var imageArrays = pair.Both(images);
            var labels = pair.Both(labelValues);
            var orderArrays = pair.Both(order);
            var x = pair.Zeros<float>(batch * pixels);
            var batchLabels = pair.Zeros<int>(batch);
            foreach (var (backend, on) in new[] { (pair.Device, 0), (pair.Reference, 1) })
            {
                backend.Run(new GatherOperation
                {
                    Source = (on == 0 ? new BatchSource(imageArrays.Device, labels.Device, orderArrays.Device, pixels) : new BatchSource(imageArrays.Reference, labels.Reference, orderArrays.Reference, pixels))
                        with
                    { Scaling = scaling ?? Data.InputScaling.Unit },
                    X = on == 0 ? x.Device : x.Reference,
                    BatchLabels = on == 0 ? batchLabels.Device : batchLabels.Reference,
                    Start = start,
                    Batch = batch,
                });
            }

            return new OperationOutcome(
            [
                ("x", pair.Expected(x.Reference), pair.Actual(x.Device)),
                ("labels", pair.Expected(batchLabels.Reference), Array.ConvertAll(pair.Actual(batchLabels.Device), v => (float)v)),
            ]);
        });
}
