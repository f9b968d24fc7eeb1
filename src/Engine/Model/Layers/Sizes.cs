namespace MnistGpu.Engine.Model.Layers;

/// <summary>
/// Counts built from sizes a user or a file gives (a kernel's side, a filter count, a width),
/// which may be anything an int holds: a result beyond a long's range saturates at its end instead
/// of wrapping, so that every bound checked later (<see cref="NetworkShape.Validate"/>) sees it as
/// too large rather than as a small or negative number.
/// </summary>
internal static class Sizes
{
    public static long Product(params ReadOnlySpan<long> factors)
    {
        Int128 product = 1;
        foreach (long factor in factors)
            product = Int128.Clamp(product * factor, long.MinValue, long.MaxValue);
        return (long)product;
    }

    public static long Sum(long a, long b) => (long)Int128.Clamp((Int128)a + b, long.MinValue, long.MaxValue);
}
