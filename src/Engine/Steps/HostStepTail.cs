using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using MnistGpu.Engine.Backends.Host;
using MnistGpu.Engine.Operations.Softmax;

namespace MnistGpu.Engine.Steps;

/// <summary>Phase 2: per row, the output layer, softmax-cross-entropy and, training, dz and dh; each part a block of rows.</summary>
internal sealed class HostStepTail<TVec> : HostStepPhase<TVec>
    where TVec : struct, ISimdFloat<TVec>
{
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public override void Execute(int part)
    {
        var s = Step;
        int hidden = s.hidden, classes = s.classes, padded = s.paddedClasses, count = TVec.Count;
        var (from, to) = HostStep.Share(s.batch, s.Parts(s.batch), part, 1);
        // Room for four rows of logits (one vector each) after the row in use.
        var z = s.scratch[part].AsSpan(0, Math.Max(padded, 5 * count));
        ref float zRef = ref MemoryMarshal.GetReference(z);
        ref float w2 = ref MemoryMarshal.GetArrayDataReference(s.w2Padded);
        var bias = s.parameters.AsSpan(s.W2 + hidden * classes, classes);
        float scale = s.backward ? 1f / s.batch : 0f;
        for (int b = from; b < to; b++)
        {
            ref float hRow = ref s.h[b * hidden];
            if (padded == count)
            {
                // The row's logits fit one vector: four rows at a time keep four independent
                // chains of multiply-adds in registers. Zero activations are multiplied too, as
                // the separate operation does (adding 0·w changes no bit), so no branch on the
                // ReLU's random zeros stalls the loop.
                if ((b - from) % 4 == 0)
                    LogitsOfFour(s, b, Math.Min(4, to - b), ref w2, z);
                z.Slice((1 + ((b - from) % 4)) * count, count).CopyTo(z[..count]);
            }
            else
            {
                z.Clear();
                for (int j = 0; j < hidden; j++)
                {
                    float value = Unsafe.Add(ref hRow, j);
                    if (value == 0f)
                        continue;
                    var a = TVec.Broadcast(value);
                    for (int q = 0; q < padded; q += count)
                        TVec.Store(TVec.MultiplyAdd(a, TVec.Load(ref Unsafe.Add(ref w2, j * padded + q)), TVec.Load(ref Unsafe.Add(ref zRef, q))), ref Unsafe.Add(ref zRef, q));
                }
            }

            var logits = s.logits.AsSpan(b * classes, classes);
            for (int c = 0; c < classes; c++)
                logits[c] = z[c] + bias[c];
            var p = s.backward ? s.dzPadded.AsSpan(b * padded, classes) : s.output.AsSpan((s.outputOffset + b) * classes, classes);
            int label = s.labels[s.order[s.start + b]];
            s.losses[s.outputOffset + b] = SoftmaxCrossEntropyOperation.HostRow(logits, p, label, scale, out int argmax);
            s.predictions[s.outputOffset + b] = argmax;
            if (!s.backward)
                continue;
            s.dzPadded.AsSpan(b * padded + classes, padded - classes).Clear();
            HiddenGradientRow(s, b, p);
        }
    }

    /// <summary>z of rows b..b+rows−1 (at most four) into z[count..], one vector each, j in order.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void LogitsOfFour(HostStepState<TVec> s, int b, int rows, ref float w2, Span<float> z)
    {
        int hidden = s.hidden, count = TVec.Count;
        ref float h0 = ref s.h[b * hidden];
        ref float h1 = ref Unsafe.Add(ref h0, Math.Min(1, rows - 1) * hidden);
        ref float h2 = ref Unsafe.Add(ref h0, Math.Min(2, rows - 1) * hidden);
        ref float h3 = ref Unsafe.Add(ref h0, Math.Min(3, rows - 1) * hidden);
        TVec z0 = TVec.Zero, z1 = TVec.Zero, z2 = TVec.Zero, z3 = TVec.Zero;
        for (int j = 0; j < hidden; j++)
        {
            var w = TVec.Load(ref Unsafe.Add(ref w2, j * count));
            z0 = TVec.MultiplyAdd(TVec.Broadcast(Unsafe.Add(ref h0, j)), w, z0);
            z1 = TVec.MultiplyAdd(TVec.Broadcast(Unsafe.Add(ref h1, j)), w, z1);
            z2 = TVec.MultiplyAdd(TVec.Broadcast(Unsafe.Add(ref h2, j)), w, z2);
            z3 = TVec.MultiplyAdd(TVec.Broadcast(Unsafe.Add(ref h3, j)), w, z3);
        }

        ref float target = ref MemoryMarshal.GetReference(z);
        TVec.Store(z0, ref Unsafe.Add(ref target, count));
        TVec.Store(z1, ref Unsafe.Add(ref target, 2 * count));
        TVec.Store(z2, ref Unsafe.Add(ref target, 3 * count));
        TVec.Store(z3, ref Unsafe.Add(ref target, 4 * count));
    }

    /// <summary>
    /// dh[b] = dz[b]·W2ᵀ ⊙ [h[b] &gt; 0] (· the dropout's scale), vectorised over the hidden units: one pass per class
    /// over the row, in class order, so each element sums as the separate operation does.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void HiddenGradientRow(HostStepState<TVec> s, int b, ReadOnlySpan<float> dz)
    {
        int hidden = s.hidden, count = TVec.Count, whole = hidden / count * count;
        ref float wt = ref MemoryMarshal.GetArrayDataReference(s.w2Transposed);
        ref float hRow = ref s.h[b * hidden];
        ref float dhRow = ref s.dh[b * hidden];
        for (int c = 0; c < dz.Length; c++)
        {
            var a = TVec.Broadcast(dz[c]);
            ref float w = ref Unsafe.Add(ref wt, c * hidden);
            for (int j = 0; j < whole; j += count)
                TVec.Store(TVec.MultiplyAdd(a, TVec.Load(ref Unsafe.Add(ref w, j)), c == 0 ? TVec.Zero : TVec.Load(ref Unsafe.Add(ref dhRow, j))), ref Unsafe.Add(ref dhRow, j));
        }

        // h is the folded dropout's output when the step drops (0 where it dropped): its kept values get its scale.
        bool drops = s.dropout.Drops;
        var scale = TVec.Broadcast(s.dropout.Scale);
        for (int j = 0; j < whole; j += count)
        {
            var masked = TVec.WherePositive(TVec.Load(ref Unsafe.Add(ref hRow, j)), TVec.Load(ref Unsafe.Add(ref dhRow, j)));
            TVec.Store(drops ? TVec.Multiply(masked, scale) : masked, ref Unsafe.Add(ref dhRow, j));
        }

        for (int j = whole; j < hidden; j++)
        {
            float acc = 0f;
            for (int c = 0; c < dz.Length; c++)
                acc = TVec.ScalarMultiplyAdd(dz[c], Unsafe.Add(ref wt, c * hidden + j), acc);
            Unsafe.Add(ref dhRow, j) = Unsafe.Add(ref hRow, j) > 0f ? (drops ? acc * s.dropout.Scale : acc) : 0f;
        }
    }
}
