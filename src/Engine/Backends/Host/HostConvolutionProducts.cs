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
internal sealed partial class HostConvolutionProducts<TVec> : IParallelWork
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

}
