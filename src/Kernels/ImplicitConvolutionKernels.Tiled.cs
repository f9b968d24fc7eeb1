using System.Runtime.CompilerServices;
using ILGPU;

namespace MnistGpu.Kernels;

/// <summary>The three products as shared-memory tiles, for GPUs.</summary>
public static partial class ImplicitConvolutionKernels
{
    /// <summary>
    /// The forward product as GPU tiles: a group of 16×16 threads computes a 32×32 block of y
    /// (positions × filters), staging 32-deep slices of the patches — gathered from x as they are
    /// loaded, consecutive threads on consecutive channels — and of the kernels in shared memory;
    /// each thread keeps a 2×2 sub-tile. Needs a group of exactly <see cref="MatMulKernels.SharedGroupSize"/> threads.
    /// </summary>
    public static void ForwardTiled(ConvolutionForwardArguments a)
    {
        var tileA = SharedMemory.Allocate1D<float>(Depth * Block);
        var tileB = SharedMemory.Allocate1D<float>(Depth * Block);
        var s = a.Shape;
        int thread = Group.IdxX, tx = thread % Side, ty = thread / Side;
        int m = ForwardRows(a), n = s.Filters, depth = s.PatchSize;
        int blockColumns = DivUp(n, Block), blocks = DivUp(m, Block) * blockColumns;
        GatherLabels(a);
        for (int block = Grid.IdxX; block < blocks; block += Grid.DimX)
        {
            int row0 = block / blockColumns * Block, col0 = block % blockColumns * Block;
            var sums = default(SubTile);
            for (int k0 = 0; k0 < depth; k0 += Depth)
            {
                for (int i = thread; i < Depth * Block; i += GroupSize)
                {
                    int r = i / Depth, kk = i % Depth;
                    int row = row0 + r, k = k0 + kk;
                    tileA[kk * Block + r] = row < m && k < depth ? PatchValue(a.Input, s, OutputPosition(a, row), k) : 0f;
                    int col = i % Block, kb = i / Block;
                    tileB[kb * Block + col] = col0 + col < n && k0 + kb < depth ? a.Parameters[(k0 + kb) * n + col0 + col] : 0f;
                }

                Group.Barrier();
                sums.Accumulate(tileA, tileB, tx, ty);
                Group.Barrier();
            }

            if (a.PoolHeight == 0)
            {
                for (int q = 0; q < 4; q++)
                    StoreForward(a, m, row0 + ty + q / 2 * Side, col0 + tx + q % 2 * Side, sums[q]);
                continue;
            }

            // Pooling: the block's 32 rows are 8 windows, each spread over four threads' sums, so
            // the outputs meet in shared memory and each thread then pools one (window, column).
            for (int q = 0; q < 4; q++)
            {
                int col = tx + q % 2 * Side;
                tileA[(ty + q / 2 * Side) * Block + col] = col0 + col < n ? WithBias(a, sums[q], col0 + col) : 0f;
            }

            Group.Barrier();
            int window = thread / Block, column = thread % Block;
            if (row0 + window * 4 < m && col0 + column < n)
            {
                int first = window * 4 * Block + column;
                StorePooled(a, row0 / 4 + window, col0 + column, tileA[first], tileA[first + Block], tileA[first + 2 * Block], tileA[first + 3 * Block]);
            }

            Group.Barrier();
        }
    }

    /// <summary>
    /// The input gradient as GPU tiles: dx (B·H·W, C) = dy-patches (B·H·W, k·k·F) · kernels
    /// rearranged (k·k·F, C), ⊙ [activation &gt; 0] when relu; one sum over (i, j, f), so it agrees
    /// with the composition to float rounding. Needs a group of exactly <see cref="MatMulKernels.SharedGroupSize"/> threads.
    /// </summary>
    public static void BackwardInputTiled(ConvolutionBackwardInputArguments a)
    {
        var tileA = SharedMemory.Allocate1D<float>(Depth * Block);
        var tileB = SharedMemory.Allocate1D<float>(Depth * Block);
        var s = a.Shape;
        int thread = Group.IdxX, tx = thread % Side, ty = thread / Side;
        int m = a.Batch * s.Height * s.Width, n = s.Channels, depth = s.KernelSize * s.KernelSize * s.Filters;
        int blockColumns = DivUp(n, Block), blocks = DivUp(m, Block) * blockColumns;
        for (int block = Grid.IdxX; block < blocks; block += Grid.DimX)
        {
            int row0 = block / blockColumns * Block, col0 = block % blockColumns * Block;
            var sums = default(SubTile);
            for (int k0 = 0; k0 < depth; k0 += Depth)
            {
                for (int i = thread; i < Depth * Block; i += GroupSize)
                {
                    int r = i / Depth, kk = i % Depth;
                    int row = row0 + r, k = k0 + kk;
                    tileA[kk * Block + r] = row < m && k < depth ? GradientPatchValue(a.OutputGradients, s, row, k) : 0f;
                    int col = i / Depth, kb = i % Depth;
                    tileB[kb * Block + col] = col0 + col < n && k0 + kb < depth ? RearrangedKernel(a.Parameters, s, k0 + kb, col0 + col) : 0f;
                }

                Group.Barrier();
                sums.Accumulate(tileA, tileB, tx, ty);
                Group.Barrier();
            }

            for (int q = 0; q < 4; q++)
                StoreInputGradient(a, m, row0 + ty + q / 2 * Side, col0 + tx + q % 2 * Side, sums[q]);
        }
    }

    /// <summary>
    /// The kernel gradient as GPU tiles: per chunk of whole images, a 32×32 block of
    /// [dW; db] (k·k·C+1, F) summed over the chunk's positions in 32-deep slices, the patches
    /// gathered from x as they are loaded, and in one chunk the optimizer's update when asked.
    /// Grid-stride over (chunk, block); each block's sum has one owner, so reruns give the same bits. Needs a group of exactly <see cref="MatMulKernels.SharedGroupSize"/> threads.
    /// </summary>
    public static void BackwardParametersTiled(ConvolutionBackwardParametersArguments a)
    {
        var tileA = SharedMemory.Allocate1D<float>(Depth * Block);
        var tileB = SharedMemory.Allocate1D<float>(Depth * Block);
        var s = a.Shape;
        int thread = Group.IdxX, tx = thread % Side, ty = thread / Side;
        int m = s.PatchSize + 1, n = s.Filters;
        int chunks = DivUp(a.Batch, a.ImagesPerChunk);
        int blockColumns = DivUp(n, Block), perChunk = DivUp(m, Block) * blockColumns;
        for (int block = Grid.IdxX; block < chunks * perChunk; block += Grid.DimX)
        {
            int chunk = block / perChunk, within = block - chunk * perChunk;
            int row0 = within / blockColumns * Block, col0 = within % blockColumns * Block;
            int firstPosition = chunk * a.ImagesPerChunk * s.Positions;
            int depth = (Math.Min(a.Batch, (chunk + 1) * a.ImagesPerChunk) - chunk * a.ImagesPerChunk) * s.Positions;
            var sums = default(SubTile);
            for (int k0 = 0; k0 < depth; k0 += Depth)
            {
                for (int i = thread; i < Depth * Block; i += GroupSize)
                {
                    int r = i % Block, kp = i / Block;
                    int row = row0 + r, k = k0 + kp;
                    tileA[kp * Block + r] = row < m && k < depth
                        ? (row == s.PatchSize ? 1f : PatchValue(a.Input, s, firstPosition + k, row))
                        : 0f;
                    int col = i % Block, kb = i / Block;
                    tileB[kb * Block + col] = col0 + col < n && k0 + kb < depth ? a.OutputGradients[(firstPosition + k0 + kb) * n + col0 + col] : 0f;
                }

                Group.Barrier();
                sums.Accumulate(tileA, tileB, tx, ty);
                Group.Barrier();
            }

            int chunkStart = chunk * m * n;
            for (int q = 0; q < 4; q++)
                StoreParameterGradient(a, chunkStart, m, n, row0 + ty + q / 2 * Side, col0 + tx + q % 2 * Side, sums[q]);
        }
    }
}
