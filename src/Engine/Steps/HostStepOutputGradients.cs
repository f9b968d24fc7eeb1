using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using MnistGpu.Engine.Backends.Host;

namespace MnistGpu.Engine.Steps;

/// <summary>
/// Phase 3: W2's and b2's gradients ([hᵀ; 1ᵀ]·dz) and the optimizer; each part a block of rows of W2
/// (the last is b2), whose gradient rows it accumulates over the batch, rows in order.
/// </summary>
internal sealed class HostStepOutputGradients<TVec> : HostStepPhase<TVec>
    where TVec : struct, ISimdFloat<TVec>
{
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public override void Execute(int part)
    {
        var s = Step;
        int hidden = s.hidden, classes = s.classes, padded = s.paddedClasses, count = TVec.Count;
        var (from, to) = HostStep.Share(hidden + 1, s.Parts(hidden + 1), part, 1);
        var g = s.scratch[part].AsSpan(0, (to - from) * padded);
        g.Clear();
        ref float gRef = ref MemoryMarshal.GetReference(g);
        ref float h = ref MemoryMarshal.GetArrayDataReference(s.h);
        ref float dz = ref MemoryMarshal.GetArrayDataReference(s.dzPadded);
        int j0 = from;
        if (padded == count)
        {
            // Eight rows of W2's gradient in registers at a time, over the batch in order;
            // zero activations multiply too (adding 0·dz changes no bit), so nothing branches.
            for (; j0 + 8 <= Math.Min(to, hidden); j0 += 8)
                EightRows(s, j0, ref Unsafe.Add(ref gRef, (j0 - from) * padded));
        }

        for (int b = 0; b < s.batch; b++)
        {
            ref float hRow = ref Unsafe.Add(ref h, b * hidden);
            ref float dzRow = ref Unsafe.Add(ref dz, b * padded);
            for (int j = j0; j < to; j++)
            {
                float value = j < hidden ? Unsafe.Add(ref hRow, j) : 1f;
                if (value == 0f)
                    continue;
                var a = TVec.Broadcast(value);
                ref float gRow = ref Unsafe.Add(ref gRef, (j - from) * padded);
                for (int q = 0; q < padded; q += count)
                    TVec.Store(TVec.MultiplyAdd(a, TVec.Load(ref Unsafe.Add(ref dzRow, q)), TVec.Load(ref Unsafe.Add(ref gRow, q))), ref Unsafe.Add(ref gRow, q));
            }
        }

        for (int j = from; j < to; j++)
        {
            int at = s.W2 + j * classes;
            s.Update(at, classes, g.Slice((j - from) * padded, classes));
        }
    }

    /// <summary>Rows j0..j0+7 of W2's gradient, one vector each: g[j] = Σ_b h[b,j]·dz[b].</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void EightRows(HostStepState<TVec> s, int j0, ref float g)
    {
        int hidden = s.hidden, count = TVec.Count;
        ref float h = ref s.h[j0];
        ref float dz = ref MemoryMarshal.GetArrayDataReference(s.dzPadded);
        TVec g0 = TVec.Zero, g1 = TVec.Zero, g2 = TVec.Zero, g3 = TVec.Zero, g4 = TVec.Zero, g5 = TVec.Zero, g6 = TVec.Zero, g7 = TVec.Zero;
        for (int b = 0; b < s.batch; b++)
        {
            var d = TVec.Load(ref Unsafe.Add(ref dz, b * count));
            ref float hb = ref Unsafe.Add(ref h, b * hidden);
            g0 = TVec.MultiplyAdd(TVec.Broadcast(hb), d, g0);
            g1 = TVec.MultiplyAdd(TVec.Broadcast(Unsafe.Add(ref hb, 1)), d, g1);
            g2 = TVec.MultiplyAdd(TVec.Broadcast(Unsafe.Add(ref hb, 2)), d, g2);
            g3 = TVec.MultiplyAdd(TVec.Broadcast(Unsafe.Add(ref hb, 3)), d, g3);
            g4 = TVec.MultiplyAdd(TVec.Broadcast(Unsafe.Add(ref hb, 4)), d, g4);
            g5 = TVec.MultiplyAdd(TVec.Broadcast(Unsafe.Add(ref hb, 5)), d, g5);
            g6 = TVec.MultiplyAdd(TVec.Broadcast(Unsafe.Add(ref hb, 6)), d, g6);
            g7 = TVec.MultiplyAdd(TVec.Broadcast(Unsafe.Add(ref hb, 7)), d, g7);
        }

        TVec.Store(g0, ref g);
        TVec.Store(g1, ref Unsafe.Add(ref g, count));
        TVec.Store(g2, ref Unsafe.Add(ref g, 2 * count));
        TVec.Store(g3, ref Unsafe.Add(ref g, 3 * count));
        TVec.Store(g4, ref Unsafe.Add(ref g, 4 * count));
        TVec.Store(g5, ref Unsafe.Add(ref g, 5 * count));
        TVec.Store(g6, ref Unsafe.Add(ref g, 6 * count));
        TVec.Store(g7, ref Unsafe.Add(ref g, 7 * count));
    }
}
