using System.Runtime.CompilerServices;
using ILGPU;

namespace MnistGpu.Kernels;

/// <summary>Which optimizer a fused kernel's epilogue applies: the rules of <see cref="OptimizerKernels"/>.</summary>
public enum UpdateRule
{
    RmsProp,
    Adam,
    Sgd,
    SgdMomentum,
}

/// <summary>
/// The optimizers, each one launch over the whole flat parameter array, with Keras' formulas
/// (ε added outside the square root). The per-element rules are shared with the fused step's
/// epilogue, so both round alike.
/// </summary>
public static class OptimizerKernels
{
    /// <summary>
    /// v ← ρ·v + (1 − ρ)·g²;  w ← w − lr·g / (√v + ε)
    /// weights (P), gradients (P), meanSquares (P) → weights, meanSquares updated in place
    /// </summary>
    public static void RmsProp(
        ArrayView<float> weights, ArrayView<float> gradients, ArrayView<float> meanSquares,
        int count, float learningRate, float rho, float epsilon)
    {
        for (int i = GridStride.First, step = GridStride.Step; i < count; i += step)
            weights[i] -= RmsPropStep(gradients[i], ref meanSquares[i], learningRate, rho, epsilon);
    }

    /// <summary>
    /// m ← β1·m + (1 − β1)·g;  v ← β2·v + (1 − β2)·g²;  w ← w − lr_t·m / (√v + ε),
    /// with lr_t = lr·√(1 − β2ᵗ)/(1 − β1ᵗ) computed on the host for step t (Keras 2's Adam)
    /// weights (P), gradients (P), first (P), second (P) → weights, first, second updated in place
    /// </summary>
    public static void Adam(
        ArrayView<float> weights, ArrayView<float> gradients, ArrayView<float> first, ArrayView<float> second,
        int count, float stepSize, float beta1, float beta2, float epsilon)
    {
        for (int i = GridStride.First, step = GridStride.Step; i < count; i += step)
            weights[i] -= AdamStep(gradients[i], ref first[i], ref second[i], stepSize, beta1, beta2, epsilon);
    }

    /// <summary>w ← w − lr·g;  weights (P), gradients (P) → weights updated in place</summary>
    public static void Sgd(ArrayView<float> weights, ArrayView<float> gradients, int count, float learningRate)
    {
        for (int i = GridStride.First, step = GridStride.Step; i < count; i += step)
            weights[i] -= learningRate * gradients[i];
    }

    /// <summary>
    /// u ← μ·u − lr·g;  w ← w + u, or with Nesterov w ← w + μ·u − lr·g (Keras' momentum SGD)
    /// weights (P), gradients (P), velocity (P) → weights, velocity updated in place
    /// </summary>
    public static void SgdMomentum(
        ArrayView<float> weights, ArrayView<float> gradients, ArrayView<float> velocity,
        int count, float learningRate, float momentum, int nesterov)
    {
        for (int i = GridStride.First, step = GridStride.Step; i < count; i += step)
            weights[i] += MomentumStep(gradients[i], ref velocity[i], learningRate, momentum, nesterov != 0);
    }

    /// <summary>RMSprop for one element: updates its mean square, returns what to subtract from the weight.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float RmsPropStep(float g, ref float meanSquare, float learningRate, float rho, float epsilon)
    {
        float v = rho * meanSquare + (1f - rho) * g * g;
        meanSquare = v;
        return learningRate * g / (MathF.Sqrt(v) + epsilon);
    }

    /// <summary>Adam for one element: updates both moments, returns what to subtract from the weight.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float AdamStep(float g, ref float first, ref float second, float stepSize, float beta1, float beta2, float epsilon)
    {
        float m = beta1 * first + (1f - beta1) * g;
        float v = beta2 * second + (1f - beta2) * g * g;
        first = m;
        second = v;
        return stepSize * m / (MathF.Sqrt(v) + epsilon);
    }

    /// <summary>Momentum SGD for one element: updates its velocity, returns what to add to the weight.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float MomentumStep(float g, ref float velocity, float learningRate, float momentum, bool nesterov)
    {
        float u = momentum * velocity - learningRate * g;
        velocity = u;
        return nesterov ? momentum * u - learningRate * g : u;
    }
}
