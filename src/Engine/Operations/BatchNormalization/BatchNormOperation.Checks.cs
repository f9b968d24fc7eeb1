namespace MnistGpu.Engine.Operations.BatchNormalization;

/// <summary>Batch normalisation's rows in <c>mnistgpu verify</c>: each pass against the reference, over flat rows and over maps' channels, and networks that train with it.</summary>
public sealed partial class BatchNormOperation
{
    /// <summary>Sums of up to a few thousand floats in order against exact doubles, then divided by deviations near 1.</summary>
    private const double Tolerance = 2e-5;

    internal static IReadOnlyList<OperationCheck> Checks { get; } =
    [
        // Flat rows, and maps: two 13x13 images (a chunk each), and two channels of the Keras convnet's first maps at batch 128 (86,528 rows, 6 chunks).
        .. new[] { (Rows: 128, Features: 64, Positions: 1), (Rows: 5, Features: 3, Positions: 1), (Rows: 2 * 13 * 13, Features: 8, Positions: 13 * 13), (Rows: 128 * 26 * 26, Features: 2, Positions: 26 * 26) }.SelectMany(s => new[]
        {
            Check(BatchNormPass.ForwardTraining, s.Rows, s.Features, s.Positions, relu: true),
            Check(BatchNormPass.ForwardInference, s.Rows, s.Features, s.Positions, relu: false),
            Check(BatchNormPass.BackwardParameters, s.Rows, s.Features, s.Positions, relu: false),
            Check(BatchNormPass.BackwardInput, s.Rows, s.Features, s.Positions, relu: true),
        }),
    ];

    internal static IReadOnlyList<NetworkCheck> Networks { get; } = [new("64,batchnorm"), new("conv3x3:4:linear,batchnorm:relu,maxpool,flatten,16")];

    private static OperationCheck Check(BatchNormPass pass, int rows, int features, int positions, bool relu) => new(
        $"batchnorm {Name(pass)}{(relu ? (pass == BatchNormPass.BackwardInput ? "+relu mask" : "+relu") : "")} {rows}x{features}",
        Math.Max(rows, features),
        Tolerance,
        Tolerance,
        pair =>
        {
            var random = new Random((rows * 31) + features);
            int length = rows * features;
            var x = pair.Both(OperationChecks.Uniform(random, length, -1f, 3f));
            // A batch-mean loss's gradients are small: dy of 1e-2 keeps dγ over 86,528 rows near 1,
            // where a float result rounds within 1e-5 of the reference's double.
            var dy = pair.Both(OperationChecks.Uniform(random, length, -0.01f, 0.01f));
            var target = pair.Zeros<float>(length);
            var parameters = pair.Both([.. OperationChecks.Uniform(random, features, 0.5f, 1.5f), .. OperationChecks.Uniform(random, features, -0.5f, 0.5f)]);
            var gradients = pair.Zeros<float>(2 * features);
            var state = pair.Both([.. OperationChecks.Uniform(random, features, -0.2f, 0.2f), .. OperationChecks.Uniform(random, features, 0.5f, 1.5f)]);
            // The backward passes read what the forward saved: a training forward on each side first.
            var saved = pair.Zeros<float>(2 * features);
            int chunkRows = positions * Math.Max(1, Math.Min(rows / positions / 2, BatchNormKernels.MaxChunkRows / positions));
            var partials = pair.Zeros<float>(2 * features * ((rows + chunkRows - 1) / chunkRows));
            foreach (var (backend, device) in new[] { (pair.Device, true), (pair.Reference, false) })
            {
                BatchNormOperation On(BatchNormPass run) => new()
                {
                    Pass = run,
                    Rows = rows,
                    Features = features,
                    ChunkRows = chunkRows,
                    Input = device ? x.Device : x.Reference,
                    OutputGradient = device ? dy.Device : dy.Reference,
                    Target = device ? target.Device : target.Reference,
                    Parameters = device ? parameters.Device : parameters.Reference,
                    Gradients = device ? gradients.Device : gradients.Reference,
                    State = device ? state.Device : state.Reference,
                    Saved = device ? saved.Device : saved.Reference,
                    Partials = device ? partials.Device : partials.Reference,
                    Relu = relu,
                };
                if (pass is BatchNormPass.BackwardParameters or BatchNormPass.BackwardInput)
                    backend.Run(On(BatchNormPass.ForwardTraining));
                backend.Run(On(pass));
            }

            return new OperationOutcome(pass switch
            {
                BatchNormPass.ForwardTraining =>
                [
                    ("y", pair.Expected(target.Reference), pair.Actual(target.Device)),
                    ("moving statistics", pair.Expected(state.Reference), pair.Actual(state.Device)),
                    ("saved statistics", pair.Expected(saved.Reference), pair.Actual(saved.Device)),
                ],
                BatchNormPass.BackwardParameters => [("dγ, dβ", pair.Expected(gradients.Reference), pair.Actual(gradients.Device))],
                BatchNormPass.BackwardInput => [("dx", pair.Expected(target.Reference), pair.Actual(target.Device))],
                _ => [("y", pair.Expected(target.Reference), pair.Actual(target.Device))],
            });
        });

    private static string Name(BatchNormPass pass) => pass switch
    {
        BatchNormPass.ForwardTraining => "forward training",
        BatchNormPass.ForwardInference => "forward inference",
        BatchNormPass.BackwardParameters => "backward parameters",
        _ => "backward input",
    };
}
