namespace MnistGpu.Engine.Operations.Copy;

/// <summary>The copy's rows in <c>mnistgpu verify</c>: masked by a ReLU, exact on every device.</summary>
public sealed partial class CopyOperation
{
    internal static IReadOnlyList<OperationCheck> Checks { get; } = [Masked(1_000), Masked(300)];

    private static OperationCheck Masked(int length) => new(
        $"flatten copy+relu mask {length:N0}",
        length,
        0,
        0,
        pair =>
        {
            var random = new Random(length);
            var source = pair.Both(OperationChecks.Uniform(random, length));
            var activation = pair.Both(OperationChecks.Uniform(random, length).Select(v => Math.Max(v, 0f)).ToArray());
            var target = pair.Zeros<float>(length);
            foreach (var (backend, on) in new[] { (pair.Device, 0), (pair.Reference, 1) })
            {
                backend.Run(new CopyOperation
                {
                    Layer = "flatten",
                    Backward = true,
                    Source = on == 0 ? source.Device : source.Reference,
                    Activation = on == 0 ? activation.Device : activation.Reference,
                    Target = on == 0 ? target.Device : target.Reference,
                    Length = length,
                    Relu = true,
                });
            }

            return new OperationOutcome([("target", pair.Expected(target.Reference), pair.Actual(target.Device))]);
        })
    {
        Convolutional = true,
    };
}
