using ILGPU;

namespace MnistGpu.Kernels;

public static class RmsPropKernels
{
    /// <summary>
    /// One RMSprop step over every parameter at once, with Keras semantics (ε added outside
    /// the square root):
    /// v ← ρ·v + (1 − ρ)·g²;  w ← w − lr·g / (√v + ε)
    /// weights (P), gradients (P), meanSquares (P) → weights, meanSquares updated in place
    /// </summary>
    public static void Update(
        ArrayView<float> weights, ArrayView<float> gradients, ArrayView<float> meanSquares,
        int count, float learningRate, float rho, float epsilon)
    {
        for (int i = GridStride.First, step = GridStride.Step; i < count; i += step)
        {
            float g = gradients[i];
            float v = rho * meanSquares[i] + (1f - rho) * g * g;
            meanSquares[i] = v;
            weights[i] -= learningRate * g / (MathF.Sqrt(v) + epsilon);
        }
    }
}
