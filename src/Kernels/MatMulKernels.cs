using System.Runtime.CompilerServices;
using ILGPU;

namespace MnistGpu.Kernels;

/// <summary>
/// Three implementations of one <see cref="MatMulProblem"/>, each best on some accelerator; all
/// are correct on every accelerator and for any M, N, K ≥ 1. Two are shaped by ILGPU's CPU
/// accelerator, where every view access is costly and every group ends in a barrier of OS
/// threads: few fat threads, many multiply-adds per load. One is shaped by GPUs: a group stages
/// tiles of both operands in shared memory with coalesced loads, and each thread keeps a small
/// register tile. The last argument, a layer's optimizer update, is read only with
/// <see cref="Epilogue.OptimizerUpdate"/>.
/// </summary>
public static class MatMulKernels
{
    public const int RegisterTileRows = 8;
    public const int RegisterTileCols = 4;
    public const int PanelRows = 4;
    public const int PanelCols = 16;

    /// <summary>Output block of one group of <see cref="SharedGroupSize"/> threads in <see cref="SharedMemoryTiled"/>.</summary>
    public const int SharedBlock = 32;

    /// <summary>Depth of the operand tiles staged in shared memory per step.</summary>
    public const int SharedDepth = 32;

    /// <summary>16×16 threads, each computing a 2×2 sub-tile of the 32×32 block.</summary>
    public const int SharedGroupSize = 256;

    /// <summary>Threads per side of a <see cref="SharedMemoryTiled"/> group; each thread's rows and columns are this far apart.</summary>
    public const int SharedSide = 16;

    /// <summary>Bytes of shared memory one group of <see cref="SharedMemoryTiled"/> uses.</summary>
    public const int SharedMemoryBytes = 2 * SharedDepth * SharedBlock * sizeof(float);

    /// <summary>
    /// Each work item computes an 8×4 tile of c in registers: 12 loads per 32 multiply-adds.
    /// Grid-stride over tiles. For dense operands on the CPU accelerator.
    /// </summary>
    public static void RegisterTiled(
        ArrayView<float> a, ArrayView<float> b, ArrayView<float> c, ArrayView<float> epilogueOperand, MatMulProblem p, ParameterUpdate update)
    {
        int tileColumns = (p.N + RegisterTileCols - 1) / RegisterTileCols;
        int tiles = (p.M + RegisterTileRows - 1) / RegisterTileRows * tileColumns;
        for (int tile = GridStride.First, step = GridStride.Step; tile < tiles; tile += step)
        {
            int row0 = tile / tileColumns * RegisterTileRows;
            int col0 = tile % tileColumns * RegisterTileCols;

            // Rows and columns past the edge re-read the last valid one; their results are
            // never stored, which keeps the inner loop free of branches.
            int a0 = RowOffset(p, row0), a1 = RowOffset(p, row0 + 1), a2 = RowOffset(p, row0 + 2), a3 = RowOffset(p, row0 + 3);
            int a4 = RowOffset(p, row0 + 4), a5 = RowOffset(p, row0 + 5), a6 = RowOffset(p, row0 + 6), a7 = RowOffset(p, row0 + 7);
            int b0 = ColOffset(p, col0), b1 = ColOffset(p, col0 + 1), b2 = ColOffset(p, col0 + 2), b3 = ColOffset(p, col0 + 3);
            bool ones = row0 + RegisterTileRows > p.ARows;

            Float4 c0 = default, c1 = default, c2 = default, c3 = default;
            Float4 c4 = default, c5 = default, c6 = default, c7 = default;
            for (int k = 0; k < p.K; k++)
            {
                int ak = k * p.A.ColStride;
                int bk = k * p.B.RowStride;
                var bRow = new Float4(b[bk + b0], b[bk + b1], b[bk + b2], b[bk + b3]);
                c0.AddScaled(ones ? ElementOrOne(a, p, row0, k) : a[a0 + ak], bRow);
                c1.AddScaled(ones ? ElementOrOne(a, p, row0 + 1, k) : a[a1 + ak], bRow);
                c2.AddScaled(ones ? ElementOrOne(a, p, row0 + 2, k) : a[a2 + ak], bRow);
                c3.AddScaled(ones ? ElementOrOne(a, p, row0 + 3, k) : a[a3 + ak], bRow);
                c4.AddScaled(ones ? ElementOrOne(a, p, row0 + 4, k) : a[a4 + ak], bRow);
                c5.AddScaled(ones ? ElementOrOne(a, p, row0 + 5, k) : a[a5 + ak], bRow);
                c6.AddScaled(ones ? ElementOrOne(a, p, row0 + 6, k) : a[a6 + ak], bRow);
                c7.AddScaled(ones ? ElementOrOne(a, p, row0 + 7, k) : a[a7 + ak], bRow);
            }

            StoreRow(c, epilogueOperand, update, p, row0, col0, c0);
            StoreRow(c, epilogueOperand, update, p, row0 + 1, col0, c1);
            StoreRow(c, epilogueOperand, update, p, row0 + 2, col0, c2);
            StoreRow(c, epilogueOperand, update, p, row0 + 3, col0, c3);
            StoreRow(c, epilogueOperand, update, p, row0 + 4, col0, c4);
            StoreRow(c, epilogueOperand, update, p, row0 + 5, col0, c5);
            StoreRow(c, epilogueOperand, update, p, row0 + 6, col0, c6);
            StoreRow(c, epilogueOperand, update, p, row0 + 7, col0, c7);
        }
    }

    /// <summary>
    /// Each work item computes a 4-row × 16-column block of c, skipping every k where all four
    /// a' values are 0: MNIST pixels are about 80 % zeros and ReLU outputs about half, so most
    /// loads of b and multiply-adds vanish, while each load of b that remains feeds four rows.
    /// Skipping exact zeros cannot change a finite sum. Grid-stride over blocks. For a sparse
    /// left operand on the CPU accelerator.
    /// </summary>
    public static void SparseRowPanel(
        ArrayView<float> a, ArrayView<float> b, ArrayView<float> c, ArrayView<float> epilogueOperand, MatMulProblem p, ParameterUpdate update)
    {
        int panels = (p.N + PanelCols - 1) / PanelCols;
        int items = (p.M + PanelRows - 1) / PanelRows * panels;
        for (int item = GridStride.First, step = GridStride.Step; item < items; item += step)
        {
            int row0 = item / panels * PanelRows;
            int col0 = item % panels * PanelCols;
            int b0 = ColOffset(p, col0), b1 = ColOffset(p, col0 + 1), b2 = ColOffset(p, col0 + 2), b3 = ColOffset(p, col0 + 3);
            int b4 = ColOffset(p, col0 + 4), b5 = ColOffset(p, col0 + 5), b6 = ColOffset(p, col0 + 6), b7 = ColOffset(p, col0 + 7);
            int b8 = ColOffset(p, col0 + 8), b9 = ColOffset(p, col0 + 9), b10 = ColOffset(p, col0 + 10), b11 = ColOffset(p, col0 + 11);
            int b12 = ColOffset(p, col0 + 12), b13 = ColOffset(p, col0 + 13), b14 = ColOffset(p, col0 + 14), b15 = ColOffset(p, col0 + 15);
            int r0 = RowOffset(p, row0), r1 = RowOffset(p, row0 + 1), r2 = RowOffset(p, row0 + 2), r3 = RowOffset(p, row0 + 3);
            bool ones = row0 + PanelRows > p.ARows;

            Float4 c00 = default, c01 = default, c02 = default, c03 = default;
            Float4 c10 = default, c11 = default, c12 = default, c13 = default;
            Float4 c20 = default, c21 = default, c22 = default, c23 = default;
            Float4 c30 = default, c31 = default, c32 = default, c33 = default;
            for (int k = 0; k < p.K; k++)
            {
                int ak = k * p.A.ColStride;
                float a0 = ones ? ElementOrOne(a, p, row0, k) : a[r0 + ak];
                float a1 = ones ? ElementOrOne(a, p, row0 + 1, k) : a[r1 + ak];
                float a2 = ones ? ElementOrOne(a, p, row0 + 2, k) : a[r2 + ak];
                float a3 = ones ? ElementOrOne(a, p, row0 + 3, k) : a[r3 + ak];
                if (a0 == 0f && a1 == 0f && a2 == 0f && a3 == 0f)
                    continue;
                int bk = k * p.B.RowStride;
                var v0 = new Float4(b[bk + b0], b[bk + b1], b[bk + b2], b[bk + b3]);
                var v1 = new Float4(b[bk + b4], b[bk + b5], b[bk + b6], b[bk + b7]);
                var v2 = new Float4(b[bk + b8], b[bk + b9], b[bk + b10], b[bk + b11]);
                var v3 = new Float4(b[bk + b12], b[bk + b13], b[bk + b14], b[bk + b15]);
                c00.AddScaled(a0, v0); c01.AddScaled(a0, v1); c02.AddScaled(a0, v2); c03.AddScaled(a0, v3);
                c10.AddScaled(a1, v0); c11.AddScaled(a1, v1); c12.AddScaled(a1, v2); c13.AddScaled(a1, v3);
                c20.AddScaled(a2, v0); c21.AddScaled(a2, v1); c22.AddScaled(a2, v2); c23.AddScaled(a2, v3);
                c30.AddScaled(a3, v0); c31.AddScaled(a3, v1); c32.AddScaled(a3, v2); c33.AddScaled(a3, v3);
            }

            StorePanelRow(c, epilogueOperand, update, p, row0, col0, c00, c01, c02, c03);
            StorePanelRow(c, epilogueOperand, update, p, row0 + 1, col0, c10, c11, c12, c13);
            StorePanelRow(c, epilogueOperand, update, p, row0 + 2, col0, c20, c21, c22, c23);
            StorePanelRow(c, epilogueOperand, update, p, row0 + 3, col0, c30, c31, c32, c33);
        }
    }

    /// <summary>
    /// GPU tiling: a group of 16×16 threads computes a 32×32 block of c. Per step it stages a
    /// 32-deep slice of a' and b' in shared memory — loaded along whichever dimension is
    /// contiguous in global memory, so loads coalesce for every layout — then each thread
    /// accumulates a 2×2 sub-tile from shared memory. A thread's rows and columns are 16 apart,
    /// so a warp reads consecutive shared-memory words and writes consecutive columns of c.
    /// Grid-stride over blocks; needs a group of exactly <see cref="SharedGroupSize"/> threads.
    /// </summary>
    public static void SharedMemoryTiled(
        ArrayView<float> a, ArrayView<float> b, ArrayView<float> c, ArrayView<float> epilogueOperand, MatMulProblem p, ParameterUpdate update)
    {
        var tileA = SharedMemory.Allocate1D<float>(SharedDepth * SharedBlock);
        var tileB = SharedMemory.Allocate1D<float>(SharedDepth * SharedBlock);
        int thread = Group.IdxX;
        int tx = thread % SharedSide;
        int ty = thread / SharedSide;
        int blockColumns = (p.N + SharedBlock - 1) / SharedBlock;
        int blocks = (p.M + SharedBlock - 1) / SharedBlock * blockColumns;
        bool aAlongK = p.A.ColStride == 1;
        bool bAlongN = p.B.ColStride == 1;

        for (int block = Grid.IdxX; block < blocks; block += Grid.DimX)
        {
            int row0 = block / blockColumns * SharedBlock;
            int col0 = block % blockColumns * SharedBlock;
            var sums = default(SubTile);

            for (int k0 = 0; k0 < p.K; k0 += SharedDepth)
            {
                for (int i = thread; i < SharedDepth * SharedBlock; i += SharedGroupSize)
                {
                    int r = aAlongK ? i / SharedDepth : i % SharedBlock;
                    int kk = aAlongK ? i % SharedDepth : i / SharedBlock;
                    int row = row0 + r, k = k0 + kk;
                    tileA[kk * SharedBlock + r] = row < p.M && k < p.K ? ElementOrOne(a, p, row, k) : 0f;

                    int col = bAlongN ? i % SharedBlock : i / SharedDepth;
                    int kb = bAlongN ? i / SharedBlock : i % SharedDepth;
                    int colIndex = col0 + col, kIndex = k0 + kb;
                    tileB[kb * SharedBlock + col] = colIndex < p.N && kIndex < p.K
                        ? b[kIndex * p.B.RowStride + colIndex * p.B.ColStride]
                        : 0f;
                }

                Group.Barrier();
                sums.Accumulate(tileA, tileB, tx, ty);
                Group.Barrier();
            }

            Store(c, epilogueOperand, update, p, row0 + ty, col0 + tx, sums.C00);
            Store(c, epilogueOperand, update, p, row0 + ty, col0 + tx + SharedSide, sums.C01);
            Store(c, epilogueOperand, update, p, row0 + ty + SharedSide, col0 + tx, sums.C10);
            Store(c, epilogueOperand, update, p, row0 + ty + SharedSide, col0 + tx + SharedSide, sums.C11);
        }
    }

    /// <summary>Offset of a' row <paramref name="row"/>, clamped to the last row that is read from memory.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int RowOffset(MatMulProblem p, int row) => Math.Min(row, p.ARows - 1) * p.A.RowStride;

    /// <summary>Offset of b' column <paramref name="col"/>, clamped to the last column.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int ColOffset(MatMulProblem p, int col) => Math.Min(col, p.N - 1) * p.B.ColStride;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float ElementOrOne(ArrayView<float> a, MatMulProblem p, int row, int k) =>
        row < p.ARows ? a[row * p.A.RowStride + k * p.A.ColStride] : 1f;

    private static void StorePanelRow(
        ArrayView<float> c, ArrayView<float> epilogueOperand, ParameterUpdate update, MatMulProblem p, int row, int col0, Float4 s0, Float4 s1, Float4 s2, Float4 s3)
    {
        StoreRow(c, epilogueOperand, update, p, row, col0, s0);
        StoreRow(c, epilogueOperand, update, p, row, col0 + 4, s1);
        StoreRow(c, epilogueOperand, update, p, row, col0 + 8, s2);
        StoreRow(c, epilogueOperand, update, p, row, col0 + 12, s3);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreRow(ArrayView<float> c, ArrayView<float> epilogueOperand, ParameterUpdate update, MatMulProblem p, int row, int col0, Float4 sums)
    {
        for (int j = 0; j < 4; j++)
            Store(c, epilogueOperand, update, p, row, col0 + j, sums[j]);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(ArrayView<float> c, ArrayView<float> epilogueOperand, ParameterUpdate update, MatMulProblem p, int row, int col, float value)
    {
        if (row >= p.M || col >= p.N)
            return;
        int index = row * p.N + col;
        if (p.Epilogue == Epilogue.Bias || p.Epilogue == Epilogue.BiasRelu)
            value += epilogueOperand[col];
        if (p.Epilogue == Epilogue.BiasRelu)
            value = Math.Max(value, 0f);
        if (p.Epilogue == Epilogue.ReluMask && epilogueOperand[index] <= 0f)
            value = 0f;
        c[index] = value;
        if (p.Epilogue == Epilogue.OptimizerUpdate)
            update.Apply(index, value);
    }
}
