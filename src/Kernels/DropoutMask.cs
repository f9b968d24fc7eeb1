namespace MnistGpu.Kernels;

/// <summary>
/// Which elements a dropout keeps, drawn without state: a hash of the run's seed, the step's number
/// and the layer's position gives the step's key, and a hash of the key and an element's index in
/// the batch gives the element's draw. So the same seed gives the same mask on every device, the
/// backward recomputes the forward's mask instead of storing it, and a resumed run draws what an
/// unbroken one would. Integer arithmetic only: every device agrees to the bit. It lives with the
/// kernels because the dropout's own kernel and the fused dense step's (which folds a dropout in) both draw it.
/// </summary>
public static class DropoutMask
{
    /// <summary>Draws are 24-bit: a rate is kept to 1/16,777,216.</summary>
    public const int DrawBits = 24;

    /// <summary>An element's index is multiplied by it (2³² / φ) before it meets the key.</summary>
    public const uint IndexMultiplier = 0x9e3779b9u;

    /// <summary><see cref="Mix"/>'s two multipliers.</summary>
    public const uint FirstMultiplier = 0x7feb352du, SecondMultiplier = 0x846ca68bu;

    /// <summary>The key of training step <paramref name="step"/> of a run seeded with <paramref name="seed"/>, for the layer at <paramref name="position"/>.</summary>
    public static uint Key(int seed, long step, int position)
    {
        uint key = Mix((uint)seed ^ 0x5bd1e995u);
        key = Mix(key ^ (uint)step);
        key = Mix(key ^ (uint)(step >> 32));
        return Mix(key + ((uint)position * IndexMultiplier));
    }

    /// <summary>The draw below which an element is dropped, for a drop rate in [0, 1).</summary>
    public static uint Threshold(double rate) => (uint)Math.Round(rate * (1 << DrawBits));

    /// <summary>Whether element <paramref name="index"/> is kept under <paramref name="key"/>: its draw is at least <paramref name="threshold"/>.</summary>
    public static bool Keeps(uint key, int index, uint threshold) => Mix(((uint)index * IndexMultiplier) ^ key) >> (32 - DrawBits) >= threshold;

    /// <summary>The factor Keras scales kept elements by, 1 / (1 − rate), in single precision as every device applies it.</summary>
    public static float Scale(double rate) => (float)(1.0 / (1.0 - rate));

    /// <summary>A 32-bit integer hash with full avalanche (C. Wellons' "lowbias32"), a bijection; the host's vector form is HostDropout's.</summary>
    public static uint Mix(uint x)
    {
        x ^= x >> 16;
        x *= FirstMultiplier;
        x ^= x >> 15;
        x *= SecondMultiplier;
        x ^= x >> 16;
        return x;
    }
}
