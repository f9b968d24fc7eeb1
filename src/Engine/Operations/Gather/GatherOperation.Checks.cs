using MnistGpu.Engine.Backends;

namespace MnistGpu.Engine.Operations.Gather;

/// <summary>The gather's rows in <c>mnistgpu verify</c>: a shuffled order, a batch starting inside it.</summary>
public sealed partial class GatherOperation
{
    internal static IReadOnlyList<OperationCheck> Checks { get; } = [Rows(128, 784), Rows(1, 784), Rows(7, 13)];

    private static OperationCheck Rows(int batch, int pixels) => new(
        $"gather {batch}x{pixels}",
        Math.Max(batch, pixels),
        1e-7,
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
                    Source = on == 0 ? new BatchSource(imageArrays.Device, labels.Device, orderArrays.Device, pixels) : new BatchSource(imageArrays.Reference, labels.Reference, orderArrays.Reference, pixels),
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
