using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using MnistGpu.Engine.Backends.Host;
using MnistGpu.Engine.Operations.Dropout;

namespace MnistGpu.Engine.Steps;

/// <summary>
/// Phase 1: h = ReLU(x·W1 + b1), then a folded dropout's mask and scale; each part a block of
/// columns, each row group's pixels in order, four rows × two or four vectors of h in registers per pass.
/// </summary>
internal sealed class HostStepHiddenForward<TVec> : HostStepPhase<TVec>
    where TVec : struct, ISimdFloat<TVec>
{
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public override void Execute(int part)
    {
        var s = Step;
        int hidden = s.hidden, count = TVec.Count, width = HostStepState<TVec>.BlockVectors * count;
        var (from, to) = HostStep.Share(hidden, s.Parts(hidden), part, count);
        ref float w1 = ref MemoryMarshal.GetArrayDataReference(s.parameters);
        ref float bias = ref Unsafe.Add(ref w1, s.pixels * hidden);
        ref ushort pixelOf = ref MemoryMarshal.GetArrayDataReference(s.groupPixel);
        ref float valuesOf = ref MemoryMarshal.GetArrayDataReference(s.groupValues);
        for (int g = 0; g < s.RowGroups; g++)
        {
            int e0 = g * s.pixels, e1 = e0 + s.groupCount[g];
            int rows = Math.Min(HostStep.Group, s.batch - g * HostStep.Group);
            ref float h = ref s.h[g * HostStep.Group * hidden];
            int col = from;
            for (; col + width <= to; col += width)
            {
                if (HostStepState<TVec>.BlockVectors == 4)
                    Block4(ref Unsafe.Add(ref pixelOf, e0), ref Unsafe.Add(ref valuesOf, e0 * HostStep.Group), e1 - e0, ref Unsafe.Add(ref w1, col), hidden, ref Unsafe.Add(ref bias, col), ref Unsafe.Add(ref h, col), rows);
                else
                    Block2(ref Unsafe.Add(ref pixelOf, e0), ref Unsafe.Add(ref valuesOf, e0 * HostStep.Group), e1 - e0, ref Unsafe.Add(ref w1, col), hidden, ref Unsafe.Add(ref bias, col), ref Unsafe.Add(ref h, col), rows);
            }

            for (; col < to; col++)
            {
                for (int r = 0; r < rows; r++)
                {
                    float acc = 0f;
                    for (int e = e0; e < e1; e++)
                        acc = TVec.ScalarMultiplyAdd(Unsafe.Add(ref valuesOf, e * HostStep.Group + r), Unsafe.Add(ref w1, Unsafe.Add(ref pixelOf, e) * hidden + col), acc);
                    Unsafe.Add(ref h, r * hidden + col) = Math.Max(acc + Unsafe.Add(ref bias, col), 0f);
                }
            }
        }

        if (s.dropout.Drops)
            Drop(s, from, to);
    }

    /// <summary>The folded dropout over columns [from, to) of every row of h: the separate operation's mask and scale.</summary>
    private static void Drop(HostStepState<TVec> s, int from, int to)
    {
        var dropout = s.dropout;
        for (int b = 0; b < s.batch; b++)
        {
            var part = s.h.AsSpan(b * s.hidden + from, to - from);
            HostDropout.Apply(part, part, part, b * s.hidden + from, dropout.Key, dropout.Threshold, dropout.Scale, relu: false);
        }
    }

    /// <summary>Four rows × four vectors of h over the group's pixels: each W1 load feeds four rows.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Block4(ref ushort pixelOf, ref float valuesOf, int entries, ref float w1, int stride, ref float bias, ref float h, int rows)
    {
        int count = TVec.Count;
        TVec a00 = TVec.Zero, a01 = TVec.Zero, a02 = TVec.Zero, a03 = TVec.Zero;
        TVec a10 = TVec.Zero, a11 = TVec.Zero, a12 = TVec.Zero, a13 = TVec.Zero;
        TVec a20 = TVec.Zero, a21 = TVec.Zero, a22 = TVec.Zero, a23 = TVec.Zero;
        TVec a30 = TVec.Zero, a31 = TVec.Zero, a32 = TVec.Zero, a33 = TVec.Zero;
        for (int e = 0; e < entries; e++)
        {
            ref float w = ref Unsafe.Add(ref w1, Unsafe.Add(ref pixelOf, e) * stride);
            TVec w0 = TVec.Load(ref w), w1v = TVec.Load(ref Unsafe.Add(ref w, count));
            TVec w2 = TVec.Load(ref Unsafe.Add(ref w, 2 * count)), w3 = TVec.Load(ref Unsafe.Add(ref w, 3 * count));
            ref float x = ref Unsafe.Add(ref valuesOf, e * HostStep.Group);
            var x0 = TVec.Broadcast(x);
            a00 = TVec.MultiplyAdd(x0, w0, a00); a01 = TVec.MultiplyAdd(x0, w1v, a01); a02 = TVec.MultiplyAdd(x0, w2, a02); a03 = TVec.MultiplyAdd(x0, w3, a03);
            var x1 = TVec.Broadcast(Unsafe.Add(ref x, 1));
            a10 = TVec.MultiplyAdd(x1, w0, a10); a11 = TVec.MultiplyAdd(x1, w1v, a11); a12 = TVec.MultiplyAdd(x1, w2, a12); a13 = TVec.MultiplyAdd(x1, w3, a13);
            var x2 = TVec.Broadcast(Unsafe.Add(ref x, 2));
            a20 = TVec.MultiplyAdd(x2, w0, a20); a21 = TVec.MultiplyAdd(x2, w1v, a21); a22 = TVec.MultiplyAdd(x2, w2, a22); a23 = TVec.MultiplyAdd(x2, w3, a23);
            var x3 = TVec.Broadcast(Unsafe.Add(ref x, 3));
            a30 = TVec.MultiplyAdd(x3, w0, a30); a31 = TVec.MultiplyAdd(x3, w1v, a31); a32 = TVec.MultiplyAdd(x3, w2, a32); a33 = TVec.MultiplyAdd(x3, w3, a33);
        }

        StoreRow(ref h, ref bias, a00, a01, a02, a03);
        if (rows > 1)
            StoreRow(ref Unsafe.Add(ref h, stride), ref bias, a10, a11, a12, a13);
        if (rows > 2)
            StoreRow(ref Unsafe.Add(ref h, 2 * stride), ref bias, a20, a21, a22, a23);
        if (rows > 3)
            StoreRow(ref Unsafe.Add(ref h, 3 * stride), ref bias, a30, a31, a32, a33);
    }

    /// <summary>Four rows × two vectors of h: the AVX2 and portable shape of <see cref="Block4"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Block2(ref ushort pixelOf, ref float valuesOf, int entries, ref float w1, int stride, ref float bias, ref float h, int rows)
    {
        int count = TVec.Count;
        TVec a00 = TVec.Zero, a01 = TVec.Zero, a10 = TVec.Zero, a11 = TVec.Zero;
        TVec a20 = TVec.Zero, a21 = TVec.Zero, a30 = TVec.Zero, a31 = TVec.Zero;
        for (int e = 0; e < entries; e++)
        {
            ref float w = ref Unsafe.Add(ref w1, Unsafe.Add(ref pixelOf, e) * stride);
            TVec w0 = TVec.Load(ref w), w1v = TVec.Load(ref Unsafe.Add(ref w, count));
            ref float x = ref Unsafe.Add(ref valuesOf, e * HostStep.Group);
            var x0 = TVec.Broadcast(x);
            a00 = TVec.MultiplyAdd(x0, w0, a00); a01 = TVec.MultiplyAdd(x0, w1v, a01);
            var x1 = TVec.Broadcast(Unsafe.Add(ref x, 1));
            a10 = TVec.MultiplyAdd(x1, w0, a10); a11 = TVec.MultiplyAdd(x1, w1v, a11);
            var x2 = TVec.Broadcast(Unsafe.Add(ref x, 2));
            a20 = TVec.MultiplyAdd(x2, w0, a20); a21 = TVec.MultiplyAdd(x2, w1v, a21);
            var x3 = TVec.Broadcast(Unsafe.Add(ref x, 3));
            a30 = TVec.MultiplyAdd(x3, w0, a30); a31 = TVec.MultiplyAdd(x3, w1v, a31);
        }

        StoreRow(ref h, ref bias, a00, a01);
        if (rows > 1)
            StoreRow(ref Unsafe.Add(ref h, stride), ref bias, a10, a11);
        if (rows > 2)
            StoreRow(ref Unsafe.Add(ref h, 2 * stride), ref bias, a20, a21);
        if (rows > 3)
            StoreRow(ref Unsafe.Add(ref h, 3 * stride), ref bias, a30, a31);
    }

    /// <summary>h = ReLU(sum + b1) for consecutive vectors of one row, bias added after the sum as the separate operation does.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreRow(ref float h, ref float bias, params ReadOnlySpan<TVec> sums)
    {
        int count = TVec.Count;
        for (int i = 0; i < sums.Length; i++)
            TVec.Store(TVec.Relu(TVec.Add(sums[i], TVec.Load(ref Unsafe.Add(ref bias, i * count)))), ref Unsafe.Add(ref h, i * count));
    }
}
