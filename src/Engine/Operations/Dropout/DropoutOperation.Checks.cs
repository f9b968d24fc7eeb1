using System.Globalization;
using MnistGpu.Kernels;

namespace MnistGpu.Engine.Operations.Dropout;

/// <summary>Dropout's rows in <c>mnistgpu verify</c>: each pass against the reference, the mask's kept fraction and scale, and networks that train with it.</summary>
public sealed partial class DropoutOperation
{
    /// <summary>Exact on every device but for the scale's rounding: a kept value is x · (1 / (1 − rate)), one float multiply.</summary>
    private const double Tolerance = 1e-6;

    internal static IReadOnlyList<OperationCheck> Checks { get; } =
    [
        Pass(0.5, 128, 512, backward: false, relu: false),
        Pass(0.3, 5, 13, backward: false, relu: false),
        Pass(0.5, 128, 512, backward: true, relu: true),
        Pass(0.2, 3, 1_600, backward: true, relu: false),
        Pass(0.4, 9, 40, backward: true, relu: true),
        KeptFraction(0.5, 1 << 18),
        KeptFraction(0.1, 1 << 18),
    ];

    internal static IReadOnlyList<NetworkCheck> Networks { get; } = [new("512,dropout:0.5"), new("64,dropout:0.5,32,dropout:0.25"), new("conv3x3:4,maxpool,flatten,dropout:0.25,16")];

    private static OperationCheck Pass(double rate, int batch, int values, bool backward, bool relu) => new(
        $"dropout {(backward ? "backward" : "forward")}{(relu ? "+relu mask" : "")} {Format(rate)} {batch}x{values}",
        Math.Max(batch, values),
        Tolerance,
        Tolerance,
        pair =>
        {
            var random = new Random(batch * values);
            var source = pair.Both(OperationChecks.Uniform(random, batch * values));
            var activation = pair.Both(OperationChecks.Uniform(random, batch * values));
            var target = pair.Zeros<float>(batch * values);
            uint key = DropoutMask.Key(seed: 3, step: 17, position: 1);
            foreach (var (backend, on) in new[] { (pair.Device, 0), (pair.Reference, 1) })
            {
                backend.Run(new DropoutOperation
                {
                    Rate = rate,
                    Backward = backward,
                    Source = on == 0 ? source.Device : source.Reference,
                    Activation = on == 0 ? activation.Device : activation.Reference,
                    Target = on == 0 ? target.Device : target.Reference,
                    Length = batch * values,
                    Key = key,
                    Relu = relu,
                });
            }

            return new OperationOutcome([(backward ? "dx" : "y", pair.Expected(target.Reference), pair.Actual(target.Device))]);
        });

    /// <summary>Ones through a forward: every kept value is the scale, every dropped one 0, and the kept share within 1 % of 1 − rate.</summary>
    private static OperationCheck KeptFraction(double rate, int length) => new(
        $"dropout kept fraction and scale {Format(rate)} {length:N0}",
        length,
        Tolerance,
        Tolerance,
        pair =>
        {
            var ones = pair.Both(Enumerable.Repeat(1f, length).ToArray());
            var target = pair.Zeros<float>(length);
            pair.Device.Run(new DropoutOperation
            {
                Rate = rate,
                Backward = false,
                Source = ones.Device,
                Activation = ones.Device,
                Target = target.Device,
                Length = length,
                Key = DropoutMask.Key(seed: 1, step: 1, position: 0),
            });
            var values = pair.Actual(target.Device);
            float scale = DropoutMask.Scale(rate);
            int kept = values.Count(v => v == scale);
            int others = values.Count(v => v != scale && v != 0f);
            double share = (double)kept / length;
            string? problem = others > 0 ? $"{others:N0} values neither 0 nor the scale {scale}"
                : Math.Abs(share - (1 - rate)) > 0.01 ? $"kept {share:P2}, expected {1 - rate:P0} ± 1 point"
                : null;
            return new OperationOutcome([], problem);
        });

    private static string Format(double rate) => rate.ToString("0.###", CultureInfo.InvariantCulture);
}
