using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using MnistGpu.Kernels;

namespace MnistGpu.Engine.Backends.Host;

/// <summary>The input gradient: over each position's nonzero output gradients, folded into the maps in registers.</summary>
internal sealed partial class HostConvolutionProducts<TVec>
    where TVec : struct, ISimdFloat<TVec>
{
    /// <summary>
    /// An image's patch gradients (rows <paramref name="stride"/> apart) folded into dx: each input's
    /// gradient summed in registers from the patch elements that saw it, in position order — the
    /// order adding each position's patch into the maps in turn sums in, so the same bits without
    /// the read-modify-write of every input once per kernel element.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Fold(ConvolutionShape s, ReadOnlySpan<float> patchGradients, int stride, Span<float> dx)
    {
        int k = s.KernelSize, c = s.Channels, vectors = c / TVec.Count * TVec.Count;
        Span<int> sources = stackalloc int[k * k];
        ref float gradients0 = ref MemoryMarshal.GetReference(patchGradients);
        for (int h = 0; h < s.Height; h++)
        {
            for (int w = 0; w < s.Width; w++)
            {
                // Kernel rows and columns from the last down: the positions that saw this input, in order.
                int n = 0;
                for (int i = k - 1; i >= 0; i--)
                {
                    int oh = h + s.Padding - i;
                    for (int j = k - 1; oh >= 0 && oh < s.OutputHeight && j >= 0; j--)
                    {
                        int ow = w + s.Padding - j;
                        if (ow >= 0 && ow < s.OutputWidth)
                            sources[n++] = ((oh * s.OutputWidth) + ow) * stride + (((i * k) + j) * c);
                    }
                }

                var into = dx.Slice(((h * s.Width) + w) * c, c);
                for (int v = 0; v < vectors; v += TVec.Count)
                {
                    var sum = TVec.Zero;
                    for (int t = 0; t < n; t++)
                        sum = TVec.Add(sum, TVec.Load(ref Unsafe.Add(ref gradients0, sources[t] + v)));
                    TVec.Store(sum, ref into[v]);
                }

                for (int channel = vectors; channel < c; channel++)
                {
                    float sum = 0f;
                    for (int t = 0; t < n; t++)
                        sum += patchGradients[sources[t] + channel];
                    into[channel] = sum;
                }
            }
        }
    }

    private void BackwardInputPart(int part)
    {
        var s = shape;
        int filters = s.Filters, patch = s.PatchSize, stride = TransposedStride(patch), imageSize = s.Height * s.Width * s.Channels;
        var (from, to) = Share(batch, parts, part);
        var patchGradients = panelBuffers[part] = Grown(panelBuffers[part], s.Positions * stride);
        var values = sliverBuffers[part] = Grown(sliverBuffers[part], s.Positions * filters);
        var taken = nonzeroFilters[part] = nonzeroFilters[part].Length >= s.Positions * (filters + 1) ? nonzeroFilters[part] : new int[s.Positions * (filters + 1)];
        var dy = gradients.Span;
        for (int image = from; image < to; image++)
        {
            // Each position's nonzero output gradients, in filter order: below a pooling three in four are zeros.
            var counts = taken.AsSpan(s.Positions * filters, s.Positions);
            for (int q = 0; q < s.Positions; q++)
            {
                var row = dy.Slice(((image * s.Positions) + q) * filters, filters);
                counts[q] = Nonzeros(row, taken.AsSpan(q * filters, filters), values.AsSpan(q * filters, filters));
            }

            for (int c0 = 0; c0 < patch; c0 += BlockWidth)
            {
                for (int q = 0; q < s.Positions; q++)
                    AccumulateBlock(taken.AsSpan(q * filters, counts[q]), values.AsSpan(q * filters, counts[q]), ref panels[c0], stride, ref patchGradients[(q * stride) + c0]);
            }

            var dx = maps.Span.Slice(image * imageSize, imageSize);
            Fold(s, patchGradients, stride, dx);

            if (relu)
                HostCopy.Masked(dx, epilogueOperand.Span.Slice(image * imageSize, imageSize), dx, imageSize, mask: true);
        }
    }

    /// <summary>
    /// Columns [c0, c0 + BlockWidth) of one position's patch gradient: Σ over its nonzero filters f, in order, of
    /// dy[f] · kernelsᵀ[f] — six independent chains of multiply-adds, each element's the chain the
    /// micro-kernel computes (a zero step adds nothing), so the same bits at a quarter of the work below a pooling.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void AccumulateBlock(ReadOnlySpan<int> filters, ReadOnlySpan<float> values, ref float transposed, int stride, ref float target)
    {
        int count = TVec.Count;
        TVec c0 = TVec.Zero, c1 = TVec.Zero, c2 = TVec.Zero, c3 = TVec.Zero, c4 = TVec.Zero, c5 = TVec.Zero;
        ref int filter0 = ref MemoryMarshal.GetReference(filters);
        ref float value0 = ref MemoryMarshal.GetReference(values);
        for (int i = 0; i < filters.Length; i++)
        {
            ref float row = ref Unsafe.Add(ref transposed, Unsafe.Add(ref filter0, i) * stride);
            TVec a = TVec.Broadcast(Unsafe.Add(ref value0, i));
            c0 = TVec.MultiplyAdd(a, TVec.Load(ref row), c0);
            c1 = TVec.MultiplyAdd(a, TVec.Load(ref Unsafe.Add(ref row, count)), c1);
            c2 = TVec.MultiplyAdd(a, TVec.Load(ref Unsafe.Add(ref row, 2 * count)), c2);
            c3 = TVec.MultiplyAdd(a, TVec.Load(ref Unsafe.Add(ref row, 3 * count)), c3);
            c4 = TVec.MultiplyAdd(a, TVec.Load(ref Unsafe.Add(ref row, 4 * count)), c4);
            c5 = TVec.MultiplyAdd(a, TVec.Load(ref Unsafe.Add(ref row, 5 * count)), c5);
        }

        TVec.Store(c0, ref target);
        TVec.Store(c1, ref Unsafe.Add(ref target, count));
        TVec.Store(c2, ref Unsafe.Add(ref target, 2 * count));
        TVec.Store(c3, ref Unsafe.Add(ref target, 3 * count));
        TVec.Store(c4, ref Unsafe.Add(ref target, 4 * count));
        TVec.Store(c5, ref Unsafe.Add(ref target, 5 * count));
    }

    /// <summary>Six vectors: the columns one <see cref="AccumulateBlock"/> sums.</summary>
    private static int BlockWidth => 6 * TVec.Count;

    /// <summary>A row of the transposed kernels and of the patch gradients: the patch rounded up to whole blocks, so a block never leaves its row.</summary>
    private static int TransposedStride(int patch) => (patch + BlockWidth - 1) / BlockWidth * BlockWidth;

    /// <summary>kernelsᵀ (F, k·k·C) with rows <see cref="TransposedStride"/> apart, zeros past the patch: read by every part.</summary>
    private void PackTransposed(ReadOnlySpan<float> kernels, ConvolutionShape s)
    {
        int stride = TransposedStride(s.PatchSize);
        panels = Grown(panels, s.Filters * stride);
        for (int f = 0; f < s.Filters; f++)
        {
            var row = panels.AsSpan(f * stride, stride);
            for (int e = 0; e < s.PatchSize; e++)
                row[e] = kernels[(e * s.Filters) + f];
            row[s.PatchSize..].Clear();
        }
    }
}
