using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using MnistGpu.Kernels;

namespace MnistGpu.Engine.Backends.Host;

/// <summary>The kernel gradient: patches or filter gradients packed into slivers straight from the maps, summed in chunks of positions.</summary>
internal sealed partial class HostConvolutionProducts<TVec>
    where TVec : struct, ISimdFloat<TVec>
{
    private void BackwardParametersPart(int part)
    {
        var p = problem;
        int filters = p.N, panelCount = (p.N + Panel - 1) / Panel, tileSize = Rows * Panel;
        var (from, to) = Share(Slivers(p.M), parts, part);
        var sliver = sliverBuffers[part] = Grown(sliverBuffers[part], ChunkPositions * Stride);
        var sums = tileBuffers[part] = Grown(tileBuffers[part], (to - from) * panelCount * tileSize);
        var ragged = panelBuffers[part] = Grown(panelBuffers[part], ChunkPositions * Panel);
        var x = maps.Span;
        var dy = gradients.Span;
        for (int k0 = 0; k0 < p.K; k0 += ChunkPositions)
        {
            int length = Math.Min(ChunkPositions, p.K - k0);
            for (int s = from; s < to; s++)
            {
                PackPatchColumns(x, s * Rows, k0, length, sliver);
                for (int panel = 0, col0 = 0; panel < panelCount; panel++, col0 += Panel)
                {
                    // A whole panel of dy is read where it lies; the last, narrower one is copied out with zeros.
                    bool whole = col0 + Panel <= filters;
                    if (!whole)
                    {
                        for (int k = 0; k < length; k++)
                        {
                            var row = ragged.AsSpan(k * Panel, Panel);
                            int width = Math.Min(Panel, filters - col0);
                            dy.Slice(((k0 + k) * filters) + col0, width).CopyTo(row);
                            row[width..].Clear();
                        }
                    }

                    ref float b = ref whole ? ref Unsafe.AsRef(in dy[(k0 * filters) + col0]) : ref ragged[0];
                    HostMatMul<TVec>.MicroKernel<SkipZeroSteps>(ref sliver[0], ref b, whole ? filters : Panel, length, ref sums[(((s - from) * panelCount) + panel) * tileSize], carry: k0 > 0);
                }
            }
        }

        for (int s = from; s < to; s++)
        {
            for (int panel = 0; panel < panelCount; panel++)
                HostMatMul<TVec>.StoreTile(target.Span, default, p, s * Rows, panel * Panel, sums.AsSpan((((s - from) * panelCount) + panel) * tileSize, tileSize));
        }
    }

    /// <summary>
    /// Part of dKᵀ = dyᵀ · patches: tiles of six filters by a panel of patch elements, numbered panel
    /// by panel and shared out evenly; per chunk of positions, the filters' slivers are packed once
    /// and each panel once, then every tile of the part carries its sums on. Stored transposed into dK.
    /// </summary>
    private void BackwardParametersByFiltersPart(int part)
    {
        var s = shape;
        int filters = s.Filters, positions = problem.K, tileSize = Rows * Panel, sliverCount = Slivers(filters);
        var (from, to) = Share(sliverCount * (s.PatchSize / Panel), parts, part);
        int firstPanel = from / sliverCount, lastPanel = (to - 1) / sliverCount;
        int sliverFrom = firstPanel == lastPanel ? from % sliverCount : 0, sliverTo = firstPanel == lastPanel ? ((to - 1) % sliverCount) + 1 : sliverCount;
        var slivers = sliverBuffers[part] = Grown(sliverBuffers[part], sliverCount * FilterChunk * Stride);
        var panel = panelBuffers[part] = Grown(panelBuffers[part], 2 * FilterChunk * Panel);
        var sums = tileBuffers[part] = Grown(tileBuffers[part], (to - from) * tileSize);
        var x = maps.Span;
        var dy = gradients.Span;
        for (int k0 = 0; k0 < positions; k0 += FilterChunk)
        {
            int length = Math.Min(FilterChunk, positions - k0);
            for (int f = sliverFrom; f < sliverTo; f++)
                PackFilterGradients(dy, f * Rows, k0, length, slivers.AsSpan(f * FilterChunk * Stride, length * Stride));
            for (int p = firstPanel, step; p <= lastPanel; p += step)
            {
                // Two panels a pass where the registers take them: a tile of the second panel is its sliver's tile plus sliverCount.
                bool pair = HostMatMul<TVec>.Wide && p < lastPanel;
                step = pair ? 2 : 1;
                PackPatchPanel(x, p * Panel, k0, length, panel);
                if (pair)
                    PackPatchPanel(x, (p + 1) * Panel, k0, length, panel.AsSpan(FilterChunk * Panel));
                for (int f = 0; f < sliverCount; f++)
                {
                    ref float filterSliver = ref slivers[f * FilterChunk * Stride];
                    int t0 = (p * sliverCount) + f, t1 = t0 + sliverCount;
                    bool first = t0 >= from && t0 < to, second = pair && t1 >= from && t1 < to;
                    if (pair && first && second)
                    {
                        HostMatMul<TVec>.MicroKernelPair<EveryStep>(ref filterSliver, ref panel[0], ref panel[FilterChunk * Panel], Panel, length, ref sums[(t0 - from) * tileSize], ref sums[(t1 - from) * tileSize], carry: k0 > 0);
                        continue;
                    }

                    if (first)
                        HostMatMul<TVec>.MicroKernel<EveryStep>(ref filterSliver, ref panel[0], Panel, length, ref sums[(t0 - from) * tileSize], carry: k0 > 0);
                    if (second)
                        HostMatMul<TVec>.MicroKernel<EveryStep>(ref filterSliver, ref panel[FilterChunk * Panel], Panel, length, ref sums[(t1 - from) * tileSize], carry: k0 > 0);
                }
            }
        }

        var target = this.target.Span;
        for (int t = from; t < to; t++)
        {
            int f0 = t % sliverCount * Rows, e0 = t / sliverCount * Panel;
            for (int r = 0; r < Rows && f0 + r < filters; r++)
            {
                for (int j = 0; j < Panel; j++)
                    target[((e0 + j) * filters) + f0 + r] = sums[((t - from) * tileSize) + (r * Panel) + j];
            }
        }
    }

    /// <summary>Filters [f0, f0 + 6) of dy at positions [k0, k0 + length) into a sliver, k-major, 8 floats a step (one load where dy has them): filters past F zeros.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void PackFilterGradients(ReadOnlySpan<float> dy, int f0, int k0, int length, Span<float> sliver)
    {
        int filters = shape.Filters, valid = Math.Min(Rows, filters - f0);
        var keep = Vector256.LessThan(Vector256.Create(0, 1, 2, 3, 4, 5, 6, 7), Vector256.Create(valid)).AsSingle();
        ref float dy0 = ref MemoryMarshal.GetReference(dy);
        ref float target0 = ref MemoryMarshal.GetReference(sliver);
        for (int k = 0; k < length; k++)
        {
            int at = ((k0 + k) * filters) + f0;
            if (at + Stride <= dy.Length)
            {
                (Vector256.LoadUnsafe(ref dy0, (nuint)at) & keep).StoreUnsafe(ref target0, (nuint)(k * Stride));
                continue;
            }

            for (int r = 0; r < Stride; r++)
                sliver[(k * Stride) + r] = r < valid ? dy[at + r] : 0f;
        }
    }

    /// <summary>Patch elements [e0, e0 + Panel) at positions [k0, k0 + length) as rows of a panel: one run of a kernel row in the maps, or 0 in the padding.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void PackPatchPanel(ReadOnlySpan<float> x, int e0, int k0, int length, Span<float> panel)
    {
        int positions = shape.Positions, imageSize = shape.Height * shape.Width * shape.Channels, count = TVec.Count;
        int image = k0 / positions, q = k0 % positions, offset = patchOffsets[e0];
        ref float x0 = ref MemoryMarshal.GetReference(x);
        for (int k = 0; k < length; k++)
        {
            ref float row = ref panel[k * Panel];
            if (windowInside[q])
            {
                ref float run = ref Unsafe.Add(ref x0, (image * imageSize) + windowOrigins[q] + offset);
                TVec.Store(TVec.Load(ref run), ref row);
                TVec.Store(TVec.Load(ref Unsafe.Add(ref run, count)), ref Unsafe.Add(ref row, count));
            }
            else
            {
                for (int j = 0; j < Panel; j++)
                    panel[(k * Panel) + j] = PatchValue(x, image, q, e0 + j);
            }

            if (++q == positions)
                (image, q) = (image + 1, 0);
        }
    }

    /// <summary>
    /// Rows [row0, row0 + 6) of [patchesᵀ; 1ᵀ] for positions [k0, k0 + length) into a sliver, k-major,
    /// 8 floats a step: a patch element's value at each position, the ones row, zeros past it. Where
    /// the six elements are neighbouring channels (most slivers of a layer with 6 or more channels)
    /// a step is one vector load of the maps; else six reads.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void PackPatchColumns(ReadOnlySpan<float> x, int row0, int k0, int length, float[] sliver)
    {
        int positions = shape.Positions, patch = shape.PatchSize;
        int image = k0 / positions, q = k0 % positions, imageSize = shape.Height * shape.Width * shape.Channels;

        // Lanes that are patch elements read the maps (the rest read the window's first input, then
        // replaced by the ones row's 1 or 0): the window lies inside, so every read does too.
        Span<int> lanes = stackalloc int[Rows];
        Span<float> constants = stackalloc float[Stride];
        Span<int> isElement = stackalloc int[Stride];
        bool neighbours = row0 + Rows <= patch;
        for (int r = 0; r < Stride; r++)
        {
            int e = row0 + r;
            bool element = r < Rows && e < patch;
            (isElement[r], constants[r]) = (element ? -1 : 0, r < Rows && e == patch ? 1f : 0f);
            if (r < Rows)
                lanes[r] = element ? patchOffsets[e] : 0;
            neighbours &= r == 0 || r >= Rows || lanes[r] == lanes[r - 1] + 1;
        }

        var keep = Vector256.Create<int>(isElement).AsSingle();
        var fill = Vector256.Create<float>(constants);
        ref float x0 = ref MemoryMarshal.GetReference(x);
        ref float target0 = ref sliver[0];
        nint e0 = lanes[0], e1 = lanes[1], e2 = lanes[2], e3 = lanes[3], e4 = lanes[4], e5 = lanes[5];
        for (int k = 0; k < length; k++)
        {
            if (windowInside[q])
            {
                nint o = (image * imageSize) + windowOrigins[q];
                var values = neighbours && o + e0 + Stride <= x.Length
                    ? Vector256.LoadUnsafe(ref x0, (nuint)(o + e0))
                    : Vector256.Create(
                        Unsafe.Add(ref x0, o + e0), Unsafe.Add(ref x0, o + e1), Unsafe.Add(ref x0, o + e2), Unsafe.Add(ref x0, o + e3),
                        Unsafe.Add(ref x0, o + e4), Unsafe.Add(ref x0, o + e5), 0f, 0f);
                Vector256.ConditionalSelect(keep, values, fill).StoreUnsafe(ref target0, (nuint)(k * Stride));
            }
            else
            {
                for (int r = 0; r < Stride; r++)
                    sliver[(k * Stride) + r] = isElement[r] != 0 ? PatchValue(x, image, q, row0 + r) : constants[r];
            }

            if (++q == positions)
                (image, q) = (image + 1, 0);
        }
    }
}
