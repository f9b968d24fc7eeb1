using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using MnistGpu.Kernels;

namespace MnistGpu.Engine.Backends.Host;

/// <summary>
/// A <see cref="MatMulProblem"/> on the host: c (M,N) = epilogue(a' (M,K) · b' (K,N)), the same
/// problems the ILGPU kernels solve. Both operands are packed first — a' into slivers of
/// <see cref="Rows"/> rows laid out k-major, b' into panels of two vectors' width — so the
/// micro-kernel streams both from contiguous memory and keeps a 6×2-vector tile of c in
/// registers (12 accumulators, two loads and six broadcasts per k). Steps where all six a'
/// values are zero are skipped: MNIST pixels are ~80 % zeros and ReLU outputs ~half, and
/// skipping exact zeros cannot change a finite sum. Work is split across the pool by panels (or
/// by slivers when there are fewer panels than threads).
/// </summary>
internal sealed class HostMatMul<TVec> : IParallelWork
    where TVec : struct, ISimdFloat<TVec>
{
    /// <summary>Rows of c per micro-kernel tile.</summary>
    public const int Rows = 6;

    /// <summary>Packed a' slivers are 8 floats per k (6 rows and 2 of padding) so one 256-bit load tests a step for zeros.</summary>
    internal const int SliverStride = 8;

    private readonly WorkerPool pool;
    private readonly float[][] panelBuffers;
    private readonly float[][] tileBuffers;
    private readonly PackA packA;
    private float[] packedA = [];

    // The product under way, set by Multiply for the parts to read.
    private MatMulProblem problem;
    private Memory<float> a, b, c, epilogueOperand;
    private int slivers, panels;
    private bool splitByPanels;

    public HostMatMul(WorkerPool pool)
    {
        this.pool = pool;
        panelBuffers = new float[pool.Threads][];
        tileBuffers = new float[pool.Threads][];
        for (int i = 0; i < pool.Threads; i++)
        {
            panelBuffers[i] = [];
            tileBuffers[i] = new float[Rows * Panel];
        }

        packA = new PackA(this);
    }

    /// <summary>Columns of c per micro-kernel tile: two vectors.</summary>
    public static int Panel => 2 * TVec.Count;

    public void Multiply(MatMulProblem p, Memory<float> aSource, Memory<float> bSource, Memory<float> cTarget, Memory<float> epilogueSource)
    {
        // The micro-kernel indexes through unchecked references: the operands are checked here, once.
        MatMulOperands.Require(p, aSource.Length, bSource.Length, cTarget.Length, epilogueSource.Length);
        problem = p;
        a = aSource;
        b = bSource;
        c = cTarget;
        epilogueOperand = epilogueSource;
        slivers = (p.M + Rows - 1) / Rows;
        panels = (p.N + Panel - 1) / Panel;
        int packedLength = slivers * p.K * SliverStride;
        if (packedA.Length < packedLength)
            packedA = new float[packedLength];

        pool.Run(Math.Min(pool.Threads, slivers), packA);
        // By panels each thread streams all of a' past its own panels of b'; when a' is far
        // taller than b' is wide (a convolution's unrolled patches), by slivers, so each part of
        // a' is read by one thread. Either way every element sums in the same order: same bits.
        splitByPanels = panels >= pool.Threads && slivers < 8 * panels;
        pool.Run(Math.Min(pool.Threads, splitByPanels ? panels : slivers), this);
        // No reference to the operands outlives the product: a disposed network's arrays must be collectable.
        (a, b, c, epilogueOperand) = (default, default, default, default);
    }

    /// <summary>Part <paramref name="part"/> of the product: its share of panels (all slivers), or of slivers (all panels).</summary>
    public void Execute(int part)
    {
        int parts = Math.Min(pool.Threads, splitByPanels ? panels : slivers);
        var (panelFrom, panelTo) = splitByPanels ? Share(panels, parts, part) : (0, panels);
        var (sliverFrom, sliverTo) = splitByPanels ? (0, slivers) : Share(slivers, parts, part);
        int k = problem.K;
        if (panelBuffers[part].Length < k * Panel)
            panelBuffers[part] = new float[k * Panel];
        var panel = panelBuffers[part];
        var tile = tileBuffers[part];

        var layout = problem.B;
        for (int p = panelFrom; p < panelTo; p++)
        {
            // A full panel of a row-major b' is read where it lies, one row of it per k;
            // transposed or ragged panels are packed into contiguous rows first.
            int col0 = p * Panel;
            bool direct = layout.ColStride == 1 && col0 + Panel <= problem.N;
            ref float panelStart = ref direct ? ref b.Span[col0] : ref PackPanel(p, panel);
            int stride = direct ? layout.RowStride : Panel;
            for (int s = sliverFrom; s < sliverTo; s++)
            {
                MicroKernel<SkipZeroSteps>(ref packedA[s * k * SliverStride], ref panelStart, stride, k, ref tile[0], carry: false);
                StoreTile(c.Span, epilogueOperand.Span, problem, s * Rows, col0, tile);
            }
        }
    }

    private static (int From, int To) Share(int count, int parts, int part) => (count * part / parts, count * (part + 1) / parts);

    /// <summary>b' columns [p·Panel, p·Panel + Panel) as K rows of Panel floats, zero beyond N.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private ref float PackPanel(int p, float[] panel)
    {
        var source = b.Span;
        int col0 = p * Panel;
        int width = Math.Min(Panel, problem.N - col0);
        var layout = problem.B;
        for (int k = 0; k < problem.K; k++)
        {
            var row = panel.AsSpan(k * Panel, Panel);
            int start = k * layout.RowStride + col0 * layout.ColStride;
            if (layout.ColStride == 1)
            {
                source.Slice(start, width).CopyTo(row);
            }
            else
            {
                for (int j = 0; j < width; j++)
                    row[j] = source[start + j * layout.ColStride];
            }

            row[width..].Clear();
        }

        return ref panel[0];
    }

    /// <summary>
    /// tile (Rows, Panel) = a' sliver (K, 8) · panel (K rows of Panel floats, <paramref name="stride"/> apart), skipping
    /// all-zero steps if <typeparamref name="TSteps"/> says so; with <paramref name="carry"/> the sums go on from the tile's values, so a K split into chunks
    /// sums every element in the order one pass over K does.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void MicroKernel<TSteps>(ref float sliver, ref float panel, int stride, int k, ref float t, bool carry)
        where TSteps : struct, IZeroSteps
    {
        TVec c00 = TVec.Zero, c01 = TVec.Zero, c10 = TVec.Zero, c11 = TVec.Zero, c20 = TVec.Zero, c21 = TVec.Zero;
        TVec c30 = TVec.Zero, c31 = TVec.Zero, c40 = TVec.Zero, c41 = TVec.Zero, c50 = TVec.Zero, c51 = TVec.Zero;
        int count = TVec.Count;
        int panelWidth = 2 * count;
        if (carry)
        {
            (c00, c01) = (TVec.Load(ref t), TVec.Load(ref Unsafe.Add(ref t, count)));
            (c10, c11) = (TVec.Load(ref Unsafe.Add(ref t, panelWidth)), TVec.Load(ref Unsafe.Add(ref t, panelWidth + count)));
            (c20, c21) = (TVec.Load(ref Unsafe.Add(ref t, 2 * panelWidth)), TVec.Load(ref Unsafe.Add(ref t, 2 * panelWidth + count)));
            (c30, c31) = (TVec.Load(ref Unsafe.Add(ref t, 3 * panelWidth)), TVec.Load(ref Unsafe.Add(ref t, 3 * panelWidth + count)));
            (c40, c41) = (TVec.Load(ref Unsafe.Add(ref t, 4 * panelWidth)), TVec.Load(ref Unsafe.Add(ref t, 4 * panelWidth + count)));
            (c50, c51) = (TVec.Load(ref Unsafe.Add(ref t, 5 * panelWidth)), TVec.Load(ref Unsafe.Add(ref t, 5 * panelWidth + count)));
        }

        for (int i = 0; i < k; i++)
        {
            ref float av = ref Unsafe.Add(ref sliver, i * SliverStride);
            if (TSteps.Skip && Vector256.LoadUnsafe(ref av) == Vector256<float>.Zero)
                continue;
            ref float bv = ref Unsafe.Add(ref panel, i * stride);
            TVec b0 = TVec.Load(ref bv), b1 = TVec.Load(ref Unsafe.Add(ref bv, count));
            TVec a0 = TVec.Broadcast(av);
            c00 = TVec.MultiplyAdd(a0, b0, c00);
            c01 = TVec.MultiplyAdd(a0, b1, c01);
            TVec a1 = TVec.Broadcast(Unsafe.Add(ref av, 1));
            c10 = TVec.MultiplyAdd(a1, b0, c10);
            c11 = TVec.MultiplyAdd(a1, b1, c11);
            TVec a2 = TVec.Broadcast(Unsafe.Add(ref av, 2));
            c20 = TVec.MultiplyAdd(a2, b0, c20);
            c21 = TVec.MultiplyAdd(a2, b1, c21);
            TVec a3 = TVec.Broadcast(Unsafe.Add(ref av, 3));
            c30 = TVec.MultiplyAdd(a3, b0, c30);
            c31 = TVec.MultiplyAdd(a3, b1, c31);
            TVec a4 = TVec.Broadcast(Unsafe.Add(ref av, 4));
            c40 = TVec.MultiplyAdd(a4, b0, c40);
            c41 = TVec.MultiplyAdd(a4, b1, c41);
            TVec a5 = TVec.Broadcast(Unsafe.Add(ref av, 5));
            c50 = TVec.MultiplyAdd(a5, b0, c50);
            c51 = TVec.MultiplyAdd(a5, b1, c51);
        }

        TVec.Store(c00, ref t);
        TVec.Store(c01, ref Unsafe.Add(ref t, count));
        TVec.Store(c10, ref Unsafe.Add(ref t, panelWidth));
        TVec.Store(c11, ref Unsafe.Add(ref t, panelWidth + count));
        TVec.Store(c20, ref Unsafe.Add(ref t, 2 * panelWidth));
        TVec.Store(c21, ref Unsafe.Add(ref t, 2 * panelWidth + count));
        TVec.Store(c30, ref Unsafe.Add(ref t, 3 * panelWidth));
        TVec.Store(c31, ref Unsafe.Add(ref t, 3 * panelWidth + count));
        TVec.Store(c40, ref Unsafe.Add(ref t, 4 * panelWidth));
        TVec.Store(c41, ref Unsafe.Add(ref t, 4 * panelWidth + count));
        TVec.Store(c50, ref Unsafe.Add(ref t, 5 * panelWidth));
        TVec.Store(c51, ref Unsafe.Add(ref t, 5 * panelWidth + count));
    }

    /// <summary>
    /// <see cref="MicroKernel{TSteps}"/> over two panels at once, for vectors with 32 registers
    /// (<see cref="Wide"/>): 24 accumulators, each step's six a' values broadcast once for both.
    /// The same sums in the same order as two calls.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void MicroKernelPair<TSteps>(ref float sliver, ref float panel0, ref float panel1, int stride, int k, ref float t0, ref float t1, bool carry)
        where TSteps : struct, IZeroSteps
    {
        TVec c00 = TVec.Zero, c01 = TVec.Zero, c02 = TVec.Zero, c03 = TVec.Zero;
        TVec c10 = TVec.Zero, c11 = TVec.Zero, c12 = TVec.Zero, c13 = TVec.Zero;
        TVec c20 = TVec.Zero, c21 = TVec.Zero, c22 = TVec.Zero, c23 = TVec.Zero;
        TVec c30 = TVec.Zero, c31 = TVec.Zero, c32 = TVec.Zero, c33 = TVec.Zero;
        TVec c40 = TVec.Zero, c41 = TVec.Zero, c42 = TVec.Zero, c43 = TVec.Zero;
        TVec c50 = TVec.Zero, c51 = TVec.Zero, c52 = TVec.Zero, c53 = TVec.Zero;
        int count = TVec.Count;
        int panelWidth = 2 * count;
        if (carry)
        {
            (c00, c01) = (TVec.Load(ref Unsafe.Add(ref t0, 0 * panelWidth)), TVec.Load(ref Unsafe.Add(ref t0, (0 * panelWidth) + count)));
            (c02, c03) = (TVec.Load(ref Unsafe.Add(ref t1, 0 * panelWidth)), TVec.Load(ref Unsafe.Add(ref t1, (0 * panelWidth) + count)));
            (c10, c11) = (TVec.Load(ref Unsafe.Add(ref t0, 1 * panelWidth)), TVec.Load(ref Unsafe.Add(ref t0, (1 * panelWidth) + count)));
            (c12, c13) = (TVec.Load(ref Unsafe.Add(ref t1, 1 * panelWidth)), TVec.Load(ref Unsafe.Add(ref t1, (1 * panelWidth) + count)));
            (c20, c21) = (TVec.Load(ref Unsafe.Add(ref t0, 2 * panelWidth)), TVec.Load(ref Unsafe.Add(ref t0, (2 * panelWidth) + count)));
            (c22, c23) = (TVec.Load(ref Unsafe.Add(ref t1, 2 * panelWidth)), TVec.Load(ref Unsafe.Add(ref t1, (2 * panelWidth) + count)));
            (c30, c31) = (TVec.Load(ref Unsafe.Add(ref t0, 3 * panelWidth)), TVec.Load(ref Unsafe.Add(ref t0, (3 * panelWidth) + count)));
            (c32, c33) = (TVec.Load(ref Unsafe.Add(ref t1, 3 * panelWidth)), TVec.Load(ref Unsafe.Add(ref t1, (3 * panelWidth) + count)));
            (c40, c41) = (TVec.Load(ref Unsafe.Add(ref t0, 4 * panelWidth)), TVec.Load(ref Unsafe.Add(ref t0, (4 * panelWidth) + count)));
            (c42, c43) = (TVec.Load(ref Unsafe.Add(ref t1, 4 * panelWidth)), TVec.Load(ref Unsafe.Add(ref t1, (4 * panelWidth) + count)));
            (c50, c51) = (TVec.Load(ref Unsafe.Add(ref t0, 5 * panelWidth)), TVec.Load(ref Unsafe.Add(ref t0, (5 * panelWidth) + count)));
            (c52, c53) = (TVec.Load(ref Unsafe.Add(ref t1, 5 * panelWidth)), TVec.Load(ref Unsafe.Add(ref t1, (5 * panelWidth) + count)));
        }

        for (int i = 0; i < k; i++)
        {
            ref float av = ref Unsafe.Add(ref sliver, i * SliverStride);
            if (TSteps.Skip && Vector256.LoadUnsafe(ref av) == Vector256<float>.Zero)
                continue;
            ref float bv0 = ref Unsafe.Add(ref panel0, i * stride);
            ref float bv1 = ref Unsafe.Add(ref panel1, i * stride);
            TVec b0 = TVec.Load(ref bv0), b1 = TVec.Load(ref Unsafe.Add(ref bv0, count));
            TVec b2 = TVec.Load(ref bv1), b3 = TVec.Load(ref Unsafe.Add(ref bv1, count));
            TVec a0 = TVec.Broadcast(Unsafe.Add(ref av, 0));
            c00 = TVec.MultiplyAdd(a0, b0, c00);
            c01 = TVec.MultiplyAdd(a0, b1, c01);
            c02 = TVec.MultiplyAdd(a0, b2, c02);
            c03 = TVec.MultiplyAdd(a0, b3, c03);
            TVec a1 = TVec.Broadcast(Unsafe.Add(ref av, 1));
            c10 = TVec.MultiplyAdd(a1, b0, c10);
            c11 = TVec.MultiplyAdd(a1, b1, c11);
            c12 = TVec.MultiplyAdd(a1, b2, c12);
            c13 = TVec.MultiplyAdd(a1, b3, c13);
            TVec a2 = TVec.Broadcast(Unsafe.Add(ref av, 2));
            c20 = TVec.MultiplyAdd(a2, b0, c20);
            c21 = TVec.MultiplyAdd(a2, b1, c21);
            c22 = TVec.MultiplyAdd(a2, b2, c22);
            c23 = TVec.MultiplyAdd(a2, b3, c23);
            TVec a3 = TVec.Broadcast(Unsafe.Add(ref av, 3));
            c30 = TVec.MultiplyAdd(a3, b0, c30);
            c31 = TVec.MultiplyAdd(a3, b1, c31);
            c32 = TVec.MultiplyAdd(a3, b2, c32);
            c33 = TVec.MultiplyAdd(a3, b3, c33);
            TVec a4 = TVec.Broadcast(Unsafe.Add(ref av, 4));
            c40 = TVec.MultiplyAdd(a4, b0, c40);
            c41 = TVec.MultiplyAdd(a4, b1, c41);
            c42 = TVec.MultiplyAdd(a4, b2, c42);
            c43 = TVec.MultiplyAdd(a4, b3, c43);
            TVec a5 = TVec.Broadcast(Unsafe.Add(ref av, 5));
            c50 = TVec.MultiplyAdd(a5, b0, c50);
            c51 = TVec.MultiplyAdd(a5, b1, c51);
            c52 = TVec.MultiplyAdd(a5, b2, c52);
            c53 = TVec.MultiplyAdd(a5, b3, c53);
        }

        TVec.Store(c00, ref Unsafe.Add(ref t0, 0 * panelWidth));
        TVec.Store(c01, ref Unsafe.Add(ref t0, (0 * panelWidth) + count));
        TVec.Store(c02, ref Unsafe.Add(ref t1, 0 * panelWidth));
        TVec.Store(c03, ref Unsafe.Add(ref t1, (0 * panelWidth) + count));
        TVec.Store(c10, ref Unsafe.Add(ref t0, 1 * panelWidth));
        TVec.Store(c11, ref Unsafe.Add(ref t0, (1 * panelWidth) + count));
        TVec.Store(c12, ref Unsafe.Add(ref t1, 1 * panelWidth));
        TVec.Store(c13, ref Unsafe.Add(ref t1, (1 * panelWidth) + count));
        TVec.Store(c20, ref Unsafe.Add(ref t0, 2 * panelWidth));
        TVec.Store(c21, ref Unsafe.Add(ref t0, (2 * panelWidth) + count));
        TVec.Store(c22, ref Unsafe.Add(ref t1, 2 * panelWidth));
        TVec.Store(c23, ref Unsafe.Add(ref t1, (2 * panelWidth) + count));
        TVec.Store(c30, ref Unsafe.Add(ref t0, 3 * panelWidth));
        TVec.Store(c31, ref Unsafe.Add(ref t0, (3 * panelWidth) + count));
        TVec.Store(c32, ref Unsafe.Add(ref t1, 3 * panelWidth));
        TVec.Store(c33, ref Unsafe.Add(ref t1, (3 * panelWidth) + count));
        TVec.Store(c40, ref Unsafe.Add(ref t0, 4 * panelWidth));
        TVec.Store(c41, ref Unsafe.Add(ref t0, (4 * panelWidth) + count));
        TVec.Store(c42, ref Unsafe.Add(ref t1, 4 * panelWidth));
        TVec.Store(c43, ref Unsafe.Add(ref t1, (4 * panelWidth) + count));
        TVec.Store(c50, ref Unsafe.Add(ref t0, 5 * panelWidth));
        TVec.Store(c51, ref Unsafe.Add(ref t0, (5 * panelWidth) + count));
        TVec.Store(c52, ref Unsafe.Add(ref t1, 5 * panelWidth));
        TVec.Store(c53, ref Unsafe.Add(ref t1, (5 * panelWidth) + count));
    }

    /// <summary>Whether <see cref="MicroKernelPair{TSteps}"/>'s 24 accumulators fit the registers: AVX-512 has 32, AVX2 16.</summary>
    internal static bool Wide => TVec.Count >= 16;

    /// <summary>The valid part of a finished tile into c (M,N) of <paramref name="problem"/>, through its epilogue (the same as the ILGPU kernels').</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void StoreTile(Span<float> target, ReadOnlySpan<float> epilogueSpan, MatMulProblem problem, int row0, int col0, Span<float> tile)
    {
        int n = problem.N;
        var epilogue = problem.Epilogue;
        int rows = Math.Min(Rows, problem.M - row0);
        int cols = Math.Min(Panel, n - col0);
        int vectorCols = cols / TVec.Count * TVec.Count;
        for (int r = 0; r < rows; r++)
        {
            int rowStart = (row0 + r) * n + col0;
            for (int j = 0; j < vectorCols; j += TVec.Count)
            {
                var value = TVec.Load(ref tile[(r * Panel) + j]);
                if (epilogue == Epilogue.Bias || epilogue == Epilogue.BiasRelu)
                    value = TVec.Add(value, TVec.Load(ref MemoryMarshal.GetReference(epilogueSpan.Slice(col0 + j))));
                if (epilogue == Epilogue.BiasRelu)
                    value = TVec.Relu(value);
                if (epilogue == Epilogue.ReluMask)
                    value = TVec.WherePositive(TVec.Load(ref MemoryMarshal.GetReference(epilogueSpan.Slice(rowStart + j))), value);
                TVec.Store(value, ref MemoryMarshal.GetReference(target.Slice(rowStart + j)));
            }

            for (int j = vectorCols; j < cols; j++)
            {
                float value = tile[r * Panel + j];
                if (epilogue == Epilogue.Bias || epilogue == Epilogue.BiasRelu)
                    value += epilogueSpan[col0 + j];
                if (epilogue == Epilogue.BiasRelu)
                    value = Math.Max(value, 0f);
                if (epilogue == Epilogue.ReluMask && epilogueSpan[rowStart + j] <= 0f)
                    value = 0f;
                target[rowStart + j] = value;
            }
        }
    }

    /// <summary>
    /// Six rows of a' that all lie within it, k-major: one 8-float store per k of the six values
    /// (a' = xᵀ has them side by side; a row-major a' — a convolution's patches — six rows apart).
    /// The operands were checked against the problem in <see cref="Multiply"/>, so the reads are unchecked.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PackWholeSliver(ReadOnlySpan<float> source, Span<float> sliver, MatMulProblem p, int row0)
    {
        ref float a = ref MemoryMarshal.GetReference(source);
        ref float target = ref MemoryMarshal.GetReference(sliver);
        int rowStride = p.A.RowStride, colStride = p.A.ColStride;
        nint r0 = row0 * rowStride, r1 = r0 + rowStride, r2 = r1 + rowStride, r3 = r2 + rowStride, r4 = r3 + rowStride, r5 = r4 + rowStride;
        for (int k = 0; k < p.K; k++)
        {
            nint at = k * colStride;
            Vector256.Create(
                Unsafe.Add(ref a, r0 + at), Unsafe.Add(ref a, r1 + at), Unsafe.Add(ref a, r2 + at), Unsafe.Add(ref a, r3 + at),
                Unsafe.Add(ref a, r4 + at), Unsafe.Add(ref a, r5 + at), 0f, 0f).StoreUnsafe(ref target, (nuint)(k * SliverStride));
        }
    }

    /// <summary>Packs a' into k-major slivers of 6 rows (8 floats a step); rows past ARows are the ones row, past M zeros.</summary>
    private sealed class PackA(HostMatMul<TVec> owner) : IParallelWork
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Execute(int part)
        {
            var p = owner.problem;
            var source = owner.a.Span;
            int parts = Math.Min(owner.pool.Threads, owner.slivers);
            var (from, to) = Share(owner.slivers, parts, part);
            var packed = owner.packedA.AsSpan();
            for (int s = from; s < to; s++)
            {
                var sliver = packed.Slice(s * p.K * SliverStride, p.K * SliverStride);
                int row0 = s * Rows;
                if (row0 + Rows <= p.ARows)
                {
                    PackWholeSliver(source, sliver, p, row0);
                    continue;
                }

                for (int r = 0; r < SliverStride; r++)
                {
                    int row = row0 + r;
                    if (r >= Rows || row >= p.M)
                    {
                        for (int k = 0; k < p.K; k++)
                            sliver[k * SliverStride + r] = 0f;
                    }
                    else if (row >= p.ARows)
                    {
                        for (int k = 0; k < p.K; k++)
                            sliver[k * SliverStride + r] = 1f;
                    }
                    else
                    {
                        int offset = row * p.A.RowStride;
                        for (int k = 0; k < p.K; k++)
                            sliver[k * SliverStride + r] = source[offset + k * p.A.ColStride];
                    }
                }
            }
        }
    }
}

/// <summary>
/// Whether the micro-kernel skips steps whose six a' values are all zero (exact zeros add nothing
/// to a finite sum, so the bits are the same either way): worth its branch where zeros come in
/// runs — pixels, ReLU outputs —, not where they are scattered, as in a pooled layer's output
/// gradients, whose branches mispredict.
/// </summary>
internal interface IZeroSteps
{
    static abstract bool Skip { get; }
}

internal readonly struct SkipZeroSteps : IZeroSteps
{
    public static bool Skip => true;
}

internal readonly struct EveryStep : IZeroSteps
{
    public static bool Skip => false;
}
