namespace MnistGpu.Tests.Support;

/// <summary>
/// The one gradient check every backward is held to: central finite differences of the loss,
/// (loss(p + h) − loss(p − h)) / 2h, against the backward's gradient, parameter by parameter.
/// </summary>
internal static class FiniteDifferences
{
    /// <summary>
    /// Asserts |numeric − analytic| ≤ <paramref name="absolute"/> + <paramref name="relative"/>·|analytic|
    /// at each of <paramref name="indices"/>, and that at least <paramref name="minimumClear"/> of
    /// those gradients exceed <paramref name="clearAbove"/>: a check of zeros proves nothing.
    /// </summary>
    /// <param name="parameters">The network's parameters, in double precision (the reference backend's), nudged in place and restored.</param>
    /// <param name="loss">The mean loss of the batch for the parameters as they are now.</param>
    /// <param name="analytic">The backward's gradient of that loss, for every parameter.</param>
    /// <param name="locate">Names a parameter for a failure's message.</param>
    public static void Expect(
        Span<double> parameters, Func<double> loss, IReadOnlyList<double> analytic, IEnumerable<int> indices,
        double h, double absolute, double relative, double clearAbove, int minimumClear, Func<int, string> locate)
    {
        int clear = 0;
        foreach (int index in indices)
        {
            double saved = parameters[index];
            parameters[index] = saved + h;
            double plus = loss();
            parameters[index] = saved - h;
            double minus = loss();
            parameters[index] = saved;
            double numeric = (plus - minus) / (2 * h);
            Assert.True(
                Math.Abs(numeric - analytic[index]) <= absolute + relative * Math.Abs(analytic[index]),
                $"{locate(index)}: finite difference {numeric:E6}, backward {analytic[index]:E6}");
            if (Math.Abs(analytic[index]) > clearAbove)
                clear++;
        }

        Assert.True(clear >= minimumClear, $"only {clear} of the checked gradients were clearly non-zero");
    }
}
