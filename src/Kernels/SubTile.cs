using System.Runtime.CompilerServices;
using ILGPU;

namespace MnistGpu.Kernels;

/// <summary>
/// One thread's 2×2 sums in a shared-memory tiled product: rows ty and ty+16, columns tx and
/// tx+16 of a 32×32 block, so a warp reads consecutive shared-memory words.
/// </summary>
internal struct SubTile
{
    public float C00, C01, C10, C11;

    /// <summary>Sum q: row ty + (q / 2)·16, column tx + (q % 2)·16.</summary>
    public readonly float this[int q]
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => q switch
        {
            0 => C00,
            1 => C01,
            2 => C10,
            _ => C11,
        };
    }

    /// <summary>Adds one staged 32-deep slice: tileA (depth, 32 rows) and tileB (depth, 32 columns), in order of depth.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Accumulate(ArrayView<float> tileA, ArrayView<float> tileB, int tx, int ty)
    {
        const int block = MatMulKernels.SharedBlock, side = MatMulKernels.SharedSide;
        for (int kk = 0; kk < MatMulKernels.SharedDepth; kk++)
        {
            float a0 = tileA[kk * block + ty], a1 = tileA[kk * block + ty + side];
            float b0 = tileB[kk * block + tx], b1 = tileB[kk * block + tx + side];
            C00 += a0 * b0;
            C01 += a0 * b1;
            C10 += a1 * b0;
            C11 += a1 * b1;
        }
    }
}
