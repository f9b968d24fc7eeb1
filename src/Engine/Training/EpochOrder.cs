namespace MnistGpu.Engine.Training;

/// <summary>
/// The order in which an epoch visits the training samples: a Fisher–Yates shuffle whose seed is
/// derived from the run's seed and the epoch number alone, so any epoch's order can be rebuilt
/// without replaying the ones before it.
/// </summary>
internal static class EpochOrder
{
    /// <summary>Writes the epoch's order of samples 0..order.Length−1 into <paramref name="order"/>.</summary>
    public static void Fill(Span<int> order, int seed, int epoch)
    {
        for (int i = 0; i < order.Length; i++)
            order[i] = i;
        new Random(DeriveSeed(seed, epoch)).Shuffle(order);
    }

    /// <summary>SplitMix64's finaliser over (seed, epoch): nearby inputs give unrelated streams.</summary>
    private static int DeriveSeed(int seed, int epoch)
    {
        ulong z = ((ulong)(uint)seed << 32 | (uint)epoch) + 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        z ^= z >> 31;
        return (int)(z & int.MaxValue);
    }
}
