using ILGPU;

namespace MnistGpu.Kernels;

public static class BiasKernels
{
    /// <summary>
    /// Gradient of a bias: the column sums of the output gradient.
    /// dy (B,O) → db (O), db[o] = Σ_b dy[b,o]
    /// </summary>
    public static void Gradient(ArrayView<float> dy, ArrayView<float> db, int batch, int outputs)
    {
        for (int col = GridStride.First, step = GridStride.Step; col < outputs; col += step)
        {
            float sum = 0f;
            for (int row = 0; row < batch; row++)
                sum += dy[row * outputs + col];
            db[col] = sum;
        }
    }
}
