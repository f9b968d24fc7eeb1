using System.Globalization;

namespace MnistGpu.Tests.Support;

/// <summary>Element-wise comparison of a float result with its double-precision reference.</summary>
internal static class Close
{
    /// <summary>Asserts |actual − expected| ≤ absolute + relative·|expected| everywhere; reports the worst element.</summary>
    public static void Assert(ReadOnlySpan<double> expected, ReadOnlySpan<float> actual, double absolute, double relative, string what)
    {
        Xunit.Assert.Equal(expected.Length, actual.Length);
        int worst = -1;
        double worstExcess = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            double error = Math.Abs(actual[i] - expected[i]);
            double excess = error - (absolute + relative * Math.Abs(expected[i]));
            if (double.IsNaN(error) || excess > worstExcess)
            {
                worst = i;
                worstExcess = double.IsNaN(error) ? double.PositiveInfinity : excess;
            }
        }

        if (worst >= 0)
        {
            Xunit.Assert.Fail(string.Create(
                CultureInfo.InvariantCulture,
                $"{what}: element {worst} is {actual[worst]}, reference {expected[worst]} (tolerance {absolute} + {relative}·|ref|)"));
        }
    }

    public static double[] ToDouble(ReadOnlySpan<float> values)
    {
        var result = new double[values.Length];
        for (int i = 0; i < values.Length; i++)
            result[i] = values[i];
        return result;
    }
}
