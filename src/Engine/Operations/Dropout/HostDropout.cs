using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using MnistGpu.Kernels;

namespace MnistGpu.Engine.Operations.Dropout;

/// <summary>
/// The dropout's mask on the host, a vector of elements at a time: <see cref="DropoutMask"/>'s
/// integer hash on <see cref="Vector{T}"/>, so every element gets the same draw, and the same bits,
/// as the kernels give it (a scalar hash per element cost a fused host step a quarter of its time).
/// </summary>
internal static class HostDropout
{
    private static readonly Vector<uint> Lanes = new(Enumerable.Range(0, Vector<uint>.Count).Select(lane => (uint)lane).ToArray());

    /// <summary>
    /// target[i] = source[i] · scale where element <paramref name="first"/> + i is kept (and
    /// activation[i] &gt; 0 when <paramref name="relu"/>), else 0. <paramref name="target"/> may be <paramref name="source"/>.
    /// </summary>
    public static void Apply(ReadOnlySpan<float> source, ReadOnlySpan<float> activation, Span<float> target, int first, uint key, uint threshold, float scale, bool relu)
    {
        var sources = MemoryMarshal.Cast<float, Vector<float>>(source);
        var signs = MemoryMarshal.Cast<float, Vector<float>>(activation);
        var targets = MemoryMarshal.Cast<float, Vector<float>>(target);
        int count = Vector<float>.Count;
        for (int v = 0; v < targets.Length; v++)
        {
            var kept = Vector.AsVectorSingle(Vector.GreaterThanOrEqual(Draws(new Vector<uint>((uint)(first + v * count)) + Lanes, key), new Vector<uint>(threshold)));
            if (relu)
                kept &= Vector.AsVectorSingle(Vector.GreaterThan(signs[v], Vector<float>.Zero));
            targets[v] = sources[v] * scale & kept;
        }

        for (int i = targets.Length * count; i < target.Length; i++)
            target[i] = DropoutMask.Keeps(key, first + i, threshold) && (!relu || activation[i] > 0f) ? source[i] * scale : 0f;
    }

    /// <summary><see cref="DropoutMask.Keeps"/>'s draws of a vector of indices.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector<uint> Draws(Vector<uint> index, uint key)
    {
        var x = index * DropoutMask.IndexMultiplier ^ new Vector<uint>(key);
        x ^= Vector.ShiftRightLogical(x, 16);
        x *= DropoutMask.FirstMultiplier;
        x ^= Vector.ShiftRightLogical(x, 15);
        x *= DropoutMask.SecondMultiplier;
        x ^= Vector.ShiftRightLogical(x, 16);
        return Vector.ShiftRightLogical(x, 32 - DropoutMask.DrawBits);
    }
}
