using MnistGpu.Engine.Backends;

namespace MnistGpu.Engine.Operations.Pooling;

/// <summary>The pooling's rows in <c>mnistgpu verify</c>: each pass on maps with ties, exact on every device.</summary>
public sealed partial class MaxPoolOperation
{
    private static readonly (int Batch, int Height, int Width, int Channels)[] Shapes = [(2, 26, 26, 32), (3, 7, 5, 3), (1, 2, 2, 1)];

    internal static IReadOnlyList<OperationCheck> Checks { get; } =
    [
        .. Shapes.SelectMany(s => new[] { Pass(s, backward: false, relu: false), Pass(s, backward: true, relu: false), Pass(s, backward: true, relu: true) }),
    ];

    /// <summary>
    /// Inputs drawn from a few values, so that windows hold ties (the first maximum must win on
    /// both sides) and, with a ReLU mask, zeros.
    /// </summary>
    private static OperationCheck Pass((int Batch, int Height, int Width, int Channels) s, bool backward, bool relu) => new(
        $"maxpool {(backward ? "backward" : "forward")}{(relu ? "+relu mask" : "")} {s.Batch}x{s.Height}x{s.Width}x{s.Channels}",
        s.Height * s.Width,
        0,
        0,
        pair =>
        {
            var random = new Random(s.Height * 3 + s.Width + s.Channels);
            var shape = new MapShape(s.Height, s.Width, s.Channels);
            int outputs = s.Batch * (s.Height / 2) * (s.Width / 2) * s.Channels;
            var x = pair.Both(Enumerable.Range(0, s.Batch * shape.Size).Select(_ => random.Next(-2, 4) / 4f).ToArray());
            var dy = pair.Both(OperationChecks.Uniform(random, outputs));
            var result = pair.Zeros<float>(backward ? s.Batch * shape.Size : outputs);
            foreach (var (backend, on) in new[] { (pair.Device, 0), (pair.Reference, 1) })
            {
                var maps = on == 0 ? x.Device : x.Reference;
                var target = on == 0 ? result.Device : result.Reference;
                backend.Run(new MaxPoolOperation
                {
                    Backward = backward,
                    Input = shape,
                    Maps = maps,
                    Output = backward ? (on == 0 ? dy.Device : dy.Reference) : target,
                    InputGradients = backward ? target : maps,
                    Batch = s.Batch,
                    Relu = relu,
                });
            }

            return new OperationOutcome([(backward ? "dx" : "y", pair.Expected(result.Reference), pair.Actual(result.Device))]);
        })
    {
        Convolutional = true,
    };
}
