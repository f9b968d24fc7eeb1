using System.Globalization;

namespace MnistGpu.Engine.Verification;

/// <summary>Accumulates the errors of device results against their references into one <see cref="CheckResult"/>.</summary>
internal sealed class Comparison(string operation, string shape, double absoluteTolerance, double relativeTolerance)
{
    private double maxAbsolute;
    private double maxRelative;
    private string? problem;

    public Comparison Compare(string what, ReadOnlySpan<double> expected, ReadOnlySpan<float> actual)
    {
        if (expected.Length != actual.Length)
            return Fail($"{what}: {actual.Length} elements, expected {expected.Length}");
        for (int i = 0; i < expected.Length; i++)
        {
            double error = Math.Abs(actual[i] - expected[i]);
            if (double.IsNaN(error))
                return Fail(string.Create(CultureInfo.InvariantCulture, $"{what}[{i}] is {actual[i]}, reference {expected[i]}"));
            maxAbsolute = Math.Max(maxAbsolute, error);
            if (Math.Abs(expected[i]) > absoluteTolerance)
                maxRelative = Math.Max(maxRelative, error / Math.Abs(expected[i]));
            if (error > absoluteTolerance + relativeTolerance * Math.Abs(expected[i]))
                Fail(string.Create(CultureInfo.InvariantCulture, $"{what}[{i}] is {actual[i]}, reference {expected[i]}"));
        }

        return this;
    }

    public Comparison Require(bool condition, string description) => condition ? this : Fail(description);

    public CheckResult Result() => new(operation, shape, maxAbsolute, maxRelative, absoluteTolerance, relativeTolerance, problem);

    private Comparison Fail(string description)
    {
        problem ??= description;
        return this;
    }
}
