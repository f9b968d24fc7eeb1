using ILGPU;

namespace MnistGpu.Kernels;

/// <summary>
/// The three matrix products of a dense layer's training step. Each thread computes an 8×4 tile
/// of the output in registers, reading its operands straight from global memory: on ILGPU's CPU
/// accelerator every view access is costly and every group ends in a barrier, so few fat
/// threads with many multiply-adds per load are what runs fastest there.
/// </summary>
public static class MatMulKernels
{
    public const int TileRows = 8;
    public const int TileCols = 4;

    /// <summary>What happens to each finished output element before it is stored.</summary>
    public enum Epilogue
    {
        /// <summary>c = a·b</summary>
        None,

        /// <summary>c = a·b + bias[col]</summary>
        Bias,

        /// <summary>c = max(0, a·b + bias[col])</summary>
        BiasRelu,

        /// <summary>c = a·b where operand[row, col] &gt; 0, else 0 (ReLU backward).</summary>
        ReluMask,
    }

    /// <summary>
    /// Dense layer forward, no activation (the output layer: softmax follows separately).
    /// x (B,I) · w (I,O) + bias (O) → y (B,O)
    /// </summary>
    public static void Forward(
        ArrayView<float> x, ArrayView<float> w, ArrayView<float> bias, ArrayView<float> y,
        int batch, int inputs, int outputs) =>
        Multiply(
            x, MatrixLayout.RowMajor(inputs),
            w, MatrixLayout.RowMajor(outputs),
            y, batch, outputs, inputs,
            bias, Epilogue.Bias);

    /// <summary>
    /// Dense layer forward with ReLU (the hidden layer).
    /// max(0, x (B,I) · w (I,O) + bias (O)) → y (B,O)
    /// </summary>
    public static void ForwardRelu(
        ArrayView<float> x, ArrayView<float> w, ArrayView<float> bias, ArrayView<float> y,
        int batch, int inputs, int outputs) =>
        Multiply(
            x, MatrixLayout.RowMajor(inputs),
            w, MatrixLayout.RowMajor(outputs),
            y, batch, outputs, inputs,
            bias, Epilogue.BiasRelu);

    /// <summary>
    /// Gradient of a dense layer's input, with the ReLU of the layer below folded in.
    /// dy (B,O) · wᵀ (O,I) ⊙ [activation (B,I) &gt; 0] → dx (B,I)
    /// </summary>
    public static void BackwardInput(
        ArrayView<float> dy, ArrayView<float> w, ArrayView<float> activation, ArrayView<float> dx,
        int batch, int inputs, int outputs) =>
        Multiply(
            dy, MatrixLayout.RowMajor(outputs),
            w, MatrixLayout.Transposed(outputs),
            dx, batch, inputs, outputs,
            activation, Epilogue.ReluMask);

    /// <summary>
    /// Gradient of a dense layer's weights.
    /// xᵀ (I,B) · dy (B,O) → dw (I,O)
    /// </summary>
    public static void BackwardWeights(
        ArrayView<float> x, ArrayView<float> dy, ArrayView<float> dw,
        int batch, int inputs, int outputs) =>
        Multiply(
            x, MatrixLayout.Transposed(inputs),
            dy, MatrixLayout.RowMajor(outputs),
            dw, inputs, outputs, batch,
            dy, Epilogue.None);

    /// <summary>
    /// c (M,N) = epilogue(a (M,K) · b (K,N)), c dense row-major; a and b addressed through their
    /// layouts. Correct for any M, N, K ≥ 1.
    /// </summary>
    private static void Multiply(
        ArrayView<float> a, MatrixLayout aLayout,
        ArrayView<float> b, MatrixLayout bLayout,
        ArrayView<float> c, int m, int n, int k,
        ArrayView<float> operand, Epilogue epilogue)
    {
        int tileColumns = (n + TileCols - 1) / TileCols;
        int tiles = (m + TileRows - 1) / TileRows * tileColumns;
        for (int tile = GridStride.First, step = GridStride.Step; tile < tiles; tile += step)
        {
            int row0 = tile / tileColumns * TileRows;
            int col0 = tile % tileColumns * TileCols;

            // Rows and columns past the edge re-read the last valid one; their results are
            // never stored, which keeps the inner loop free of branches.
            int a0 = Math.Min(row0, m - 1) * aLayout.RowStride;
            int a1 = Math.Min(row0 + 1, m - 1) * aLayout.RowStride;
            int a2 = Math.Min(row0 + 2, m - 1) * aLayout.RowStride;
            int a3 = Math.Min(row0 + 3, m - 1) * aLayout.RowStride;
            int a4 = Math.Min(row0 + 4, m - 1) * aLayout.RowStride;
            int a5 = Math.Min(row0 + 5, m - 1) * aLayout.RowStride;
            int a6 = Math.Min(row0 + 6, m - 1) * aLayout.RowStride;
            int a7 = Math.Min(row0 + 7, m - 1) * aLayout.RowStride;
            int b0 = Math.Min(col0, n - 1) * bLayout.ColStride;
            int b1 = Math.Min(col0 + 1, n - 1) * bLayout.ColStride;
            int b2 = Math.Min(col0 + 2, n - 1) * bLayout.ColStride;
            int b3 = Math.Min(col0 + 3, n - 1) * bLayout.ColStride;

            Float4 c0 = default, c1 = default, c2 = default, c3 = default;
            Float4 c4 = default, c5 = default, c6 = default, c7 = default;
            for (int i = 0; i < k; i++)
            {
                int ai = i * aLayout.ColStride;
                int bi = i * bLayout.RowStride;
                var bRow = new Float4(b[bi + b0], b[bi + b1], b[bi + b2], b[bi + b3]);
                c0.AddScaled(a[a0 + ai], bRow);
                c1.AddScaled(a[a1 + ai], bRow);
                c2.AddScaled(a[a2 + ai], bRow);
                c3.AddScaled(a[a3 + ai], bRow);
                c4.AddScaled(a[a4 + ai], bRow);
                c5.AddScaled(a[a5 + ai], bRow);
                c6.AddScaled(a[a6 + ai], bRow);
                c7.AddScaled(a[a7 + ai], bRow);
            }

            StoreRow(c, operand, epilogue, row0, col0, m, n, c0);
            StoreRow(c, operand, epilogue, row0 + 1, col0, m, n, c1);
            StoreRow(c, operand, epilogue, row0 + 2, col0, m, n, c2);
            StoreRow(c, operand, epilogue, row0 + 3, col0, m, n, c3);
            StoreRow(c, operand, epilogue, row0 + 4, col0, m, n, c4);
            StoreRow(c, operand, epilogue, row0 + 5, col0, m, n, c5);
            StoreRow(c, operand, epilogue, row0 + 6, col0, m, n, c6);
            StoreRow(c, operand, epilogue, row0 + 7, col0, m, n, c7);
        }
    }

    private static void StoreRow(
        ArrayView<float> c, ArrayView<float> operand, Epilogue epilogue,
        int row, int col0, int m, int n, Float4 sums)
    {
        if (row >= m)
            return;
        for (int j = 0; j < TileCols && col0 + j < n; j++)
        {
            int col = col0 + j;
            int index = row * n + col;
            float value = sums[j];
            if (epilogue == Epilogue.Bias || epilogue == Epilogue.BiasRelu)
                value += operand[col];
            if (epilogue == Epilogue.BiasRelu)
                value = Math.Max(value, 0f);
            if (epilogue == Epilogue.ReluMask && operand[index] <= 0f)
                value = 0f;
            c[index] = value;
        }
    }
}
