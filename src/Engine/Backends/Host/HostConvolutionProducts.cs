using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using MnistGpu.Kernels;

namespace MnistGpu.Engine.Backends.Host;

/// <summary>
/// A convolution's three products on the host with no unrolled patches in memory. The forward and
/// the kernel gradient pack each sliver of <see cref="HostMatMul{TVec}"/>'s micro-kernel — six
/// patch rows, or six patch elements or six filters over a chunk of positions (see
/// <see cref="ByFilters"/>) — straight from the maps into a buffer the core keeps in its
/// first-level cache, multiply it and store it before the next is packed. The input gradient runs
/// over each position's nonzero output gradients only (below a pooling, one in four or fewer) and
/// folds an image's patch gradients into its maps in registers. Unrolling a batch's patches first
/// wrote and read again ~9 MB per product (conv2 of the Keras convnet), more than the caches hold:
/// the products waited on memory.
/// Every element sums as the product over unrolled patches does — multiply-adds in k order (a
/// kernel gradient's chunks carry their sums on), only exact zeros skipped, patch gradients folded
/// in position order — so the bits are the same, whatever the threads.
/// Allocates nothing once its buffers have grown: one instance holds the operation under way.
/// </summary>
internal sealed class HostConvolutionProducts<TVec> : IParallelWork
    where TVec : struct, ISimdFloat<TVec>
{
    private const int Rows = HostMatMul<TVec>.Rows;
    private const int Stride = HostMatMul<TVec>.SliverStride;

    /// <summary>Positions per chunk of a kernel gradient's sum: the chunk of dy (128 × F) and each packed sliver stay in cache.</summary>
    private const int ChunkPositions = 128;

    /// <summary>Positions per chunk of a kernel gradient summed by filters: every filter's sliver and a pair of patch panels stay in cache.</summary>
    private const int FilterChunk = 64;

    private readonly WorkerPool pool;
    private readonly float[][] sliverBuffers, tileBuffers, panelBuffers;
    private readonly int[][] nonzeroFilters;

    // The kernels packed for the operation under way, read by every part: the forward's panels, or the input gradient's transpose.
    private float[] panels = [];
    private int[] patchOffsets = [], patchRows = [], patchColumns = [], windowOrigins = [];
    private bool[] windowInside = [];

    // The operation under way, set before the parts run.
    private Work work;
    private ConvolutionShape shape;
    private MatMulProblem problem;
    private Memory<float> maps, gradients, target, epilogueOperand;
    private int batch, parts;
    private bool relu;

    public HostConvolutionProducts(WorkerPool pool)
    {
        this.pool = pool;
        sliverBuffers = new float[pool.Threads][];
        tileBuffers = new float[pool.Threads][];
        panelBuffers = new float[pool.Threads][];
        nonzeroFilters = new int[pool.Threads][];
        for (int i = 0; i < pool.Threads; i++)
            (sliverBuffers[i], tileBuffers[i], panelBuffers[i], nonzeroFilters[i]) = ([], [], [], []);
    }

    private enum Work
    {
        Forward,
        BackwardInput,
        BackwardParameters,
        BackwardParametersByFilters,
    }

    private static int Panel => HostMatMul<TVec>.Panel;

    /// <summary>x (B,H,W,C) → y (B·OH·OW, F) = patches · kernels + bias, ReLU when <paramref name="withRelu"/>.</summary>
    public void Forward(ConvolutionShape s, Memory<float> x, Memory<float> kernels, Memory<float> bias, Memory<float> y, int rows, bool withRelu)
    {
        var p = MatMulProblem.Forward(rows * s.Positions, s.PatchSize, s.Filters, withRelu);
        Require(s, rows, x, y, (kernels, p.K * p.N), (bias, p.N));
        PackPanels(kernels.Span, p);
        Run(Work.Forward, s, p, rows, x, default, y, bias, withRelu, Slivers(p.M));
    }

    /// <summary>dy (B·OH·OW, F) → dx (B,H,W,C): patch gradients dy · kernelsᵀ folded per image, ⊙ [activation &gt; 0] when <paramref name="mask"/>.</summary>
    public void BackwardInput(ConvolutionShape s, Memory<float> dy, Memory<float> kernels, Memory<float> activation, Memory<float> dx, int rows, bool mask)
    {
        Require(s, rows, dx, dy, (kernels, s.PatchSize * s.Filters), (activation, mask ? dx.Length : 0));
        PackTransposed(kernels.Span, s);
        // Not a product of packed slivers: no MatMulProblem describes it.
        Run(Work.BackwardInput, s, default, rows, dx, dy, default, activation, mask, rows);
    }

    /// <summary>x (B,H,W,C), dy (B·OH·OW, F) → [dK; db] (k·k·C + 1, F) = [patchesᵀ; 1ᵀ] · dy.</summary>
    public void BackwardParameters(ConvolutionShape s, Memory<float> x, Memory<float> dy, Memory<float> parameterGradients, int rows)
    {
        var p = MatMulProblem.BackwardParameters(rows * s.Positions, s.PatchSize, s.Filters);
        Require(s, rows, x, dy, (parameterGradients, p.M * p.N), (default, 0));
        if (!ByFilters(s))
        {
            Run(Work.BackwardParameters, s, p, rows, x, dy, parameterGradients, default, false, Slivers(p.M));
            return;
        }

        Run(Work.BackwardParametersByFilters, s, p, rows, x, dy, parameterGradients, default, false, Slivers(s.Filters) * (s.PatchSize / Panel));
        // The bias gradient, dy's column sums in position order: adding is what the ones row's multiply-adds (1·dy + sum) compute.
        var sums = parameterGradients.Span.Slice(s.PatchSize * s.Filters, s.Filters);
        sums.Clear();
        var gradientRows = dy.Span;
        for (int k = 0; k < p.K; k++)
            TensorPrimitives.Add(sums, gradientRows.Slice(k * s.Filters, s.Filters), sums);
    }

    /// <summary>
    /// Whether the kernel gradient is summed as its transpose, dKᵀ (F, k·k·C) = dyᵀ · patches: when a
    /// kernel row's k·C inputs, contiguous in the maps, split into whole panels, a panel of patch
    /// elements at a position is two vector loads and a sliver of six filters' gradients is one,
    /// where six patch elements at a position take six reads. conv2 and conv3 of the Keras convnet.
    /// Both orders sum every element over the positions in order and skip only exact zeros: the same bits.
    /// </summary>
    private static bool ByFilters(ConvolutionShape s) => s.KernelSize * s.Channels % Panel == 0;

    public void Execute(int part)
    {
        switch (work)
        {
            case Work.Forward:
                ForwardPart(part);
                break;
            case Work.BackwardInput:
                BackwardInputPart(part);
                break;
            case Work.BackwardParameters:
                BackwardParametersPart(part);
                break;
            default:
                BackwardParametersByFiltersPart(part);
                break;
        }
    }

    private static int Slivers(int rows) => (rows + Rows - 1) / Rows;

    private static (int From, int To) Share(int count, int parts, int part) => (count * part / parts, count * (part + 1) / parts);

    private static float[] Grown(float[] buffer, int length) => buffer.Length >= length ? buffer : new float[length];

    /// <summary>The nonzero values of <paramref name="row"/> and where they stand, in order: eight compared at once, then one step per nonzero (a branch per value mispredicts on scattered zeros).</summary>
    private static int Nonzeros(ReadOnlySpan<float> row, Span<int> where, Span<float> values)
    {
        int count = 0, f0 = 0;
        for (; f0 <= row.Length - Vector256<float>.Count; f0 += Vector256<float>.Count)
        {
            uint bits = (~Vector256.Equals(Vector256.Create(row.Slice(f0, Vector256<float>.Count)), Vector256<float>.Zero)).ExtractMostSignificantBits();
            for (; bits != 0; bits &= bits - 1)
            {
                int f = f0 + System.Numerics.BitOperations.TrailingZeroCount(bits);
                (where[count], values[count], count) = (f, row[f], count + 1);
            }
        }

        for (; f0 < row.Length; f0++)
        {
            if (row[f0] != 0f)
                (where[count], values[count], count) = (f0, row[f0], count + 1);
        }

        return count;
    }

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

    private static int PanelCount(int columns) => (columns + Panel - 1) / Panel;

    /// <summary>
    /// tile = sliver · packed panel <paramref name="panel"/> of K rows, and the next panel into the tile's second half
    /// when the registers take both (<see cref="HostMatMul{TVec}.Wide"/>) and there is one: the panels done.
    /// </summary>
    private int MultiplyPanels(float[] sliver, int panel, int panelCount, int k, float[] tile)
    {
        int panelSize = k * Panel;
        if (HostMatMul<TVec>.Wide && panel + 1 < panelCount)
        {
            HostMatMul<TVec>.MicroKernelPair<SkipZeroSteps>(ref sliver[0], ref panels[panel * panelSize], ref panels[(panel + 1) * panelSize], Panel, k, ref tile[0], ref tile[Rows * Panel], carry: false);
            return 2;
        }

        HostMatMul<TVec>.MicroKernel<SkipZeroSteps>(ref sliver[0], ref panels[panel * panelSize], Panel, k, ref tile[0], carry: false);
        return 1;
    }

    /// <summary>The packers and the micro-kernel read through unchecked references: the operands are checked here, once.</summary>
    private static void Require(ConvolutionShape s, int rows, Memory<float> inputMaps, Memory<float> outputs, (Memory<float> Array, int Length) first, (Memory<float> Array, int Length) second)
    {
        if (inputMaps.Length < (long)rows * s.Height * s.Width * s.Channels || outputs.Length < (long)rows * s.Positions * s.Filters
            || first.Array.Length < first.Length || second.Array.Length < second.Length)
            throw new ArgumentException($"A convolution's operands are shorter than its shape {s.Height}x{s.Width}x{s.Channels} -> {s.OutputHeight}x{s.OutputWidth}x{s.Filters} needs for {rows} images.");
    }

    private void Run(Work what, ConvolutionShape s, MatMulProblem p, int rows, Memory<float> input, Memory<float> outputGradients, Memory<float> output, Memory<float> epilogue, bool withRelu, int units)
    {
        (work, shape, problem, batch, relu) = (what, s, p, rows, withRelu);
        (maps, gradients, target, epilogueOperand) = (input, outputGradients, output, epilogue);
        IndexPatches(s);
        IndexWindows(s);
        parts = Math.Min(pool.Threads, units);
        pool.Run(parts, this);
        // No reference to the operands outlives the operation: a disposed network's arrays must be collectable.
        (maps, gradients, target, epilogueOperand) = (default, default, default, default);
    }

    /// <summary>Each patch element (i, j, c): its offset from its window's first input, and its kernel row and column.</summary>
    private void IndexPatches(ConvolutionShape s)
    {
        if (patchOffsets.Length < s.PatchSize)
            (patchOffsets, patchRows, patchColumns) = (new int[s.PatchSize], new int[s.PatchSize], new int[s.PatchSize]);
        for (int e = 0; e < s.PatchSize; e++)
        {
            int i = e / (s.KernelSize * s.Channels), j = e / s.Channels % s.KernelSize, c = e % s.Channels;
            (patchOffsets[e], patchRows[e], patchColumns[e]) = (((i * s.Width) + j) * s.Channels + c, i, j);
        }
    }

    /// <summary>Each output position's window: where it starts in its image's maps, and whether it lies wholly inside them.</summary>
    private void IndexWindows(ConvolutionShape s)
    {
        if (windowOrigins.Length < s.Positions)
            (windowOrigins, windowInside) = (new int[s.Positions], new bool[s.Positions]);
        for (int q = 0; q < s.Positions; q++)
        {
            int top = (q / s.OutputWidth) - s.Padding, left = (q % s.OutputWidth) - s.Padding;
            windowOrigins[q] = ((top * s.Width) + left) * s.Channels;
            windowInside[q] = top >= 0 && left >= 0 && top + s.KernelSize <= s.Height && left + s.KernelSize <= s.Width;
        }
    }

    /// <summary>b' (the kernels) as panels of K rows of Panel floats, zero past N: read by every part.</summary>
    private void PackPanels(ReadOnlySpan<float> kernels, MatMulProblem p)
    {
        int count = (p.N + Panel - 1) / Panel;
        panels = Grown(panels, count * p.K * Panel);
        for (int panel = 0; panel < count; panel++)
        {
            for (int k = 0; k < p.K; k++)
            {
                var row = panels.AsSpan(((panel * p.K) + k) * Panel, Panel);
                for (int j = 0, col = panel * Panel; j < Panel; j++, col++)
                    row[j] = col >= p.N ? 0f : kernels[(k * p.N) + col];
            }
        }
    }

    /// <summary>Where position <paramref name="q"/> of image <paramref name="image"/>'s window starts in the maps, and whether it lies wholly inside them.</summary>
    private (int Origin, bool Inside) Window(int image, int q) =>
        ((image * shape.Height * shape.Width * shape.Channels) + windowOrigins[q], windowInside[q]);

    /// <summary>Patch element <paramref name="e"/> of the window at (<paramref name="image"/>, <paramref name="q"/>): the input there, or 0 in the padding.</summary>
    private float PatchValue(ReadOnlySpan<float> x, int image, int q, int e)
    {
        var s = shape;
        int h = (q / s.OutputWidth) - s.Padding + patchRows[e], w = (q % s.OutputWidth) - s.Padding + patchColumns[e];
        return h < 0 || h >= s.Height || w < 0 || w >= s.Width ? 0f : x[(((image * s.Height) + h) * s.Width + w) * s.Channels + (e % s.Channels)];
    }

    private void ForwardPart(int part)
    {
        var p = problem;
        var (from, to) = Share(Slivers(p.M), parts, part);
        var sliver = sliverBuffers[part] = Grown(sliverBuffers[part], p.K * Stride);
        var tile = tileBuffers[part] = Grown(tileBuffers[part], 2 * Rows * Panel);
        var x = maps.Span;
        for (int s = from; s < to; s++)
        {
            PackPatchRows(x, s * Rows, sliver);
            for (int panel = 0, done; panel < PanelCount(p.N); panel += done)
            {
                done = MultiplyPanels(sliver, panel, PanelCount(p.N), p.K, tile);
                for (int d = 0; d < done; d++)
                    HostMatMul<TVec>.StoreTile(target.Span, epilogueOperand.Span, p, s * Rows, (panel + d) * Panel, tile.AsSpan(d * Rows * Panel));
            }
        }
    }

    /// <summary>Patch rows [row0, row0 + 6) of the batch into a sliver, k-major, 8 floats a step; rows past the batch are zeros.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void PackPatchRows(ReadOnlySpan<float> x, int row0, float[] sliver)
    {
        int positions = shape.Positions, patch = shape.PatchSize;
        Span<int> origins = stackalloc int[Rows];
        bool inside = row0 + Rows <= problem.M;
        for (int r = 0; r < Rows && inside; r++)
        {
            (origins[r], bool whole) = Window((row0 + r) / positions, (row0 + r) % positions);
            inside = whole;
        }

        if (inside)
        {
            ref float x0 = ref MemoryMarshal.GetReference(x);
            ref float target0 = ref sliver[0];
            nint o0 = origins[0], o1 = origins[1], o2 = origins[2], o3 = origins[3], o4 = origins[4], o5 = origins[5];
            for (int e = 0; e < patch; e++)
            {
                nint at = patchOffsets[e];
                Vector256.Create(
                    Unsafe.Add(ref x0, o0 + at), Unsafe.Add(ref x0, o1 + at), Unsafe.Add(ref x0, o2 + at), Unsafe.Add(ref x0, o3 + at),
                    Unsafe.Add(ref x0, o4 + at), Unsafe.Add(ref x0, o5 + at), 0f, 0f).StoreUnsafe(ref target0, (nuint)(e * Stride));
            }

            return;
        }

        for (int r = 0; r < Stride; r++)
        {
            int row = row0 + r;
            for (int e = 0; e < patch; e++)
                sliver[(e * Stride) + r] = r >= Rows || row >= problem.M ? 0f : PatchValue(x, row / positions, row % positions, e);
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
                HostConvolution.Copy(dx, epilogueOperand.Span.Slice(image * imageSize, imageSize), dx, imageSize, mask: true);
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
