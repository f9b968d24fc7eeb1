namespace MnistGpu.Kernels;

/// <summary>
/// Where element (row, col) of a matrix operand lives: at row·RowStride + col·ColStride. A
/// transposed operand is the same buffer with its strides swapped, so the three products that
/// training needs share one kernel body and no transpose is ever materialised.
/// </summary>
public readonly struct MatrixLayout
{
    public MatrixLayout(int rowStride, int colStride)
    {
        RowStride = rowStride;
        ColStride = colStride;
    }

    public int RowStride { get; }

    public int ColStride { get; }

    /// <summary>A dense row-major matrix with <paramref name="cols"/> columns.</summary>
    public static MatrixLayout RowMajor(int cols) => new(cols, 1);

    /// <summary>The transpose of a dense row-major matrix with <paramref name="cols"/> columns.</summary>
    public static MatrixLayout Transposed(int cols) => new(1, cols);
}
