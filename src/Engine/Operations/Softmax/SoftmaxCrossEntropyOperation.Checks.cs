namespace MnistGpu.Engine.Operations.Softmax;

/// <summary>The loss's rows in <c>mnistgpu verify</c>: each pass, with a row of huge logits and results written past an offset.</summary>
public sealed partial class SoftmaxCrossEntropyOperation
{
    private static readonly (int Batch, int Classes)[] Shapes = [(128, 10), (1, 10), (5, 3), (17, 1)];

    internal static IReadOnlyList<OperationCheck> Checks { get; } = [.. Shapes.SelectMany(s => new[] { Pass(s.Batch, s.Classes, backward: false), Pass(s.Batch, s.Classes, backward: true) })];

    private static OperationCheck Pass(int batch, int classes, bool backward) => new(
        $"softmax-cross-entropy {(backward ? "forward+backward" : "forward")} {batch}x{classes}",
        Math.Max(batch, classes),
        1e-5,
        1e-5,
        pair =>
        {
            var random = new Random(batch * 3 + classes);
            var logitValues = OperationChecks.Uniform(random, batch * classes, -10f, 10f);
            // A row of huge logits: exp overflows unless the maximum is subtracted first.
            for (int c = 0; c < classes; c++)
                logitValues[c] = 1000f + c;
            var labelValues = new int[batch];
            for (int i = 0; i < batch; i++)
                labelValues[i] = random.Next(classes);
            const int offset = 3;
            var logits = pair.Both(logitValues);
            var labels = pair.Both(labelValues);
            var output = pair.Zeros<float>(batch * classes);
            var losses = pair.Zeros<float>(batch + offset);
            var predictions = pair.Zeros<int>(batch + offset);
            foreach (var (backend, on) in new[] { (pair.Device, 0), (pair.Reference, 1) })
            {
                backend.Run(new SoftmaxCrossEntropyOperation
                {
                    Backward = backward,
                    Logits = on == 0 ? logits.Device : logits.Reference,
                    Labels = on == 0 ? labels.Device : labels.Reference,
                    Output = on == 0 ? output.Device : output.Reference,
                    Classes = classes,
                    Losses = on == 0 ? losses.Device : losses.Reference,
                    Predictions = on == 0 ? predictions.Device : predictions.Reference,
                    Batch = batch,
                    Offset = offset,
                });
            }

            return new OperationOutcome(
            [
                (backward ? "dlogits" : "probabilities", pair.Expected(output.Reference), pair.Actual(output.Device)),
                ("losses", pair.Expected(losses.Reference), pair.Actual(losses.Device)),
                ("predictions", pair.Expected(predictions.Reference), Array.ConvertAll(pair.Actual(predictions.Device), v => (float)v)),
            ]);
        });
}
