using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using MnistGpu.Engine.Backends.Host;

namespace MnistGpu.Engine.Steps;

/// <summary>
/// Phase 4: W1's and b1's gradients ([xᵀ; 1ᵀ]·dh) and the optimizer; each part a block of groups of
/// four pixels (the part after the last holds b1), each group summed over the batch rows in
/// which any of its pixels is nonzero, rows in order.
/// </summary>
internal sealed class HostStepHiddenGradients<TVec> : HostStepPhase<TVec>
    where TVec : struct, ISimdFloat<TVec>
{
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public override void Execute(int part)
    {
        var s = Step;
        int hidden = s.hidden, pixels = s.pixels, count = TVec.Count, width = HostStepState<TVec>.BlockVectors * count;
        var (from, to) = HostStep.Share(s.PixelGroups + 1, s.Parts(s.PixelGroups + 1), part, 1);
        var g = s.scratch[part].AsSpan(0, HostStep.Group * hidden);
        ref float gRef = ref MemoryMarshal.GetReference(g);
        ref float dh = ref MemoryMarshal.GetArrayDataReference(s.dh);
        var rows = s.rowLists[part];
        var values = s.scratch[part].AsSpan(HostStep.Group * hidden);
        for (int group = from; group < to; group++)
        {
            if (group == s.PixelGroups)
            {
                // The ones row: b1's gradient is the column sum of dh (1·dh added in row order).
                var gb = g[..hidden];
                gb.Clear();
                for (int b = 0; b < s.batch; b++)
                    AddRow(ref Unsafe.Add(ref dh, b * hidden), ref gRef, hidden);
                int bias = pixels * hidden;
                s.Update(bias, hidden, gb);
                continue;
            }

            int k0 = group * HostStep.Group, pixelsHere = Math.Min(HostStep.Group, pixels - k0);
            int entries = BatchRows(s, k0, pixelsHere, rows, values);
            if (entries == 0)
            {
                s.UpdateWithZeroGradient(k0 * hidden, pixelsHere * hidden);
                continue;
            }

            ref float x = ref MemoryMarshal.GetReference(values);
            int col = 0;
            for (; col + width <= hidden; col += width)
            {
                if (HostStepState<TVec>.BlockVectors == 4)
                    Block4(rows, ref x, entries, ref Unsafe.Add(ref dh, col), hidden, ref Unsafe.Add(ref gRef, col));
                else
                    Block2(rows, ref x, entries, ref Unsafe.Add(ref dh, col), hidden, ref Unsafe.Add(ref gRef, col));
            }

            for (; col < hidden; col++)
            {
                for (int r = 0; r < HostStep.Group; r++)
                {
                    float acc = 0f;
                    for (int e = 0; e < entries; e++)
                        acc = TVec.ScalarMultiplyAdd(Unsafe.Add(ref x, e * HostStep.Group + r), Unsafe.Add(ref dh, rows[e] * hidden + col), acc);
                    Unsafe.Add(ref gRef, r * hidden + col) = acc;
                }
            }

            for (int r = 0; r < pixelsHere; r++)
            {
                int at = (k0 + r) * hidden;
                s.Update(at, hidden, g.Slice(r * hidden, hidden));
            }
        }
    }

    /// <summary>The batch rows in which any of pixels k0.. is nonzero, ascending, with the pixels' values; returns how many.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int BatchRows(HostStepState<TVec> s, int k0, int pixelsHere, int[] rows, Span<float> values)
    {
        // Every row is written and kept only when one of its pixels is nonzero: no branch on the
        // images' random zeros.
        int entries = 0;
        for (int b = 0; b < s.batch; b++)
        {
            int image = s.order[s.start + b] * s.pixels + k0;
            int any = 0;
            rows[entries] = b;
            for (int r = 0; r < HostStep.Group; r++)
            {
                byte value = r < pixelsHere ? s.images[image + r] : (byte)0;
                any |= value;
                values[entries * HostStep.Group + r] = HostStep.Unit[value];
            }

            entries += (int)((uint)-any >> 31);
        }

        return entries;
    }

    /// <summary>Four pixels × four vectors of the gradient over the listed batch rows: each dh load feeds four pixels.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Block4(int[] rows, ref float valuesOf, int entries, ref float dh, int stride, ref float g)
    {
        int count = TVec.Count;
        TVec a00 = TVec.Zero, a01 = TVec.Zero, a02 = TVec.Zero, a03 = TVec.Zero;
        TVec a10 = TVec.Zero, a11 = TVec.Zero, a12 = TVec.Zero, a13 = TVec.Zero;
        TVec a20 = TVec.Zero, a21 = TVec.Zero, a22 = TVec.Zero, a23 = TVec.Zero;
        TVec a30 = TVec.Zero, a31 = TVec.Zero, a32 = TVec.Zero, a33 = TVec.Zero;
        ref int rowOf = ref MemoryMarshal.GetArrayDataReference(rows);
        for (int e = 0; e < entries; e++)
        {
            ref float d = ref Unsafe.Add(ref dh, Unsafe.Add(ref rowOf, e) * stride);
            TVec d0 = TVec.Load(ref d), d1 = TVec.Load(ref Unsafe.Add(ref d, count));
            TVec d2 = TVec.Load(ref Unsafe.Add(ref d, 2 * count)), d3 = TVec.Load(ref Unsafe.Add(ref d, 3 * count));
            ref float x = ref Unsafe.Add(ref valuesOf, e * HostStep.Group);
            var x0 = TVec.Broadcast(x);
            a00 = TVec.MultiplyAdd(x0, d0, a00); a01 = TVec.MultiplyAdd(x0, d1, a01); a02 = TVec.MultiplyAdd(x0, d2, a02); a03 = TVec.MultiplyAdd(x0, d3, a03);
            var x1 = TVec.Broadcast(Unsafe.Add(ref x, 1));
            a10 = TVec.MultiplyAdd(x1, d0, a10); a11 = TVec.MultiplyAdd(x1, d1, a11); a12 = TVec.MultiplyAdd(x1, d2, a12); a13 = TVec.MultiplyAdd(x1, d3, a13);
            var x2 = TVec.Broadcast(Unsafe.Add(ref x, 2));
            a20 = TVec.MultiplyAdd(x2, d0, a20); a21 = TVec.MultiplyAdd(x2, d1, a21); a22 = TVec.MultiplyAdd(x2, d2, a22); a23 = TVec.MultiplyAdd(x2, d3, a23);
            var x3 = TVec.Broadcast(Unsafe.Add(ref x, 3));
            a30 = TVec.MultiplyAdd(x3, d0, a30); a31 = TVec.MultiplyAdd(x3, d1, a31); a32 = TVec.MultiplyAdd(x3, d2, a32); a33 = TVec.MultiplyAdd(x3, d3, a33);
        }

        Store(ref g, a00, a01, a02, a03);
        Store(ref Unsafe.Add(ref g, stride), a10, a11, a12, a13);
        Store(ref Unsafe.Add(ref g, 2 * stride), a20, a21, a22, a23);
        Store(ref Unsafe.Add(ref g, 3 * stride), a30, a31, a32, a33);
    }

    /// <summary>Four pixels × two vectors: the AVX2 and portable shape of <see cref="Block4"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Block2(int[] rows, ref float valuesOf, int entries, ref float dh, int stride, ref float g)
    {
        int count = TVec.Count;
        TVec a00 = TVec.Zero, a01 = TVec.Zero, a10 = TVec.Zero, a11 = TVec.Zero;
        TVec a20 = TVec.Zero, a21 = TVec.Zero, a30 = TVec.Zero, a31 = TVec.Zero;
        ref int rowOf = ref MemoryMarshal.GetArrayDataReference(rows);
        for (int e = 0; e < entries; e++)
        {
            ref float d = ref Unsafe.Add(ref dh, Unsafe.Add(ref rowOf, e) * stride);
            TVec d0 = TVec.Load(ref d), d1 = TVec.Load(ref Unsafe.Add(ref d, count));
            ref float x = ref Unsafe.Add(ref valuesOf, e * HostStep.Group);
            var x0 = TVec.Broadcast(x);
            a00 = TVec.MultiplyAdd(x0, d0, a00); a01 = TVec.MultiplyAdd(x0, d1, a01);
            var x1 = TVec.Broadcast(Unsafe.Add(ref x, 1));
            a10 = TVec.MultiplyAdd(x1, d0, a10); a11 = TVec.MultiplyAdd(x1, d1, a11);
            var x2 = TVec.Broadcast(Unsafe.Add(ref x, 2));
            a20 = TVec.MultiplyAdd(x2, d0, a20); a21 = TVec.MultiplyAdd(x2, d1, a21);
            var x3 = TVec.Broadcast(Unsafe.Add(ref x, 3));
            a30 = TVec.MultiplyAdd(x3, d0, a30); a31 = TVec.MultiplyAdd(x3, d1, a31);
        }

        Store(ref g, a00, a01);
        Store(ref Unsafe.Add(ref g, stride), a10, a11);
        Store(ref Unsafe.Add(ref g, 2 * stride), a20, a21);
        Store(ref Unsafe.Add(ref g, 3 * stride), a30, a31);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(ref float g, params ReadOnlySpan<TVec> sums)
    {
        for (int i = 0; i < sums.Length; i++)
            TVec.Store(sums[i], ref Unsafe.Add(ref g, i * TVec.Count));
    }

    /// <summary>g += 1·row, vectorised: the ones row's multiply-add.</summary>
    private static void AddRow(ref float row, ref float g, int length)
    {
        int count = TVec.Count, i = 0;
        var one = TVec.Broadcast(1f);
        for (; i + count <= length; i += count)
            TVec.Store(TVec.MultiplyAdd(one, TVec.Load(ref Unsafe.Add(ref row, i)), TVec.Load(ref Unsafe.Add(ref g, i))), ref Unsafe.Add(ref g, i));
        for (; i < length; i++)
            Unsafe.Add(ref g, i) = TVec.ScalarMultiplyAdd(1f, Unsafe.Add(ref row, i), Unsafe.Add(ref g, i));
    }
}
