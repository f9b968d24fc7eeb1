using System.Runtime.CompilerServices;
using ILGPU;

namespace MnistGpu.Kernels;

/// <summary>Which optimizer an update applies: each is named after the <see cref="OptimizerKernels"/> method that applies it.</summary>
public enum UpdateRule
{
    RmsProp,
    Adam,
    Sgd,
    SgdMomentum,
}

/// <summary>
/// One optimizer update's rule and hyperparameters, as every optimizer kernel and the fused
/// step's epilogue take them: <see cref="StepSize"/> is the learning rate, with Adam's bias
/// correction for this update folded in on the host. The rule is carried, never inferred from
/// which state arrays exist. Eight 4-byte fields: inside another kernel argument it adds no padding.
/// </summary>
public readonly struct OptimizerStep
{
    public OptimizerStep(UpdateRule rule, float stepSize, float rho, float beta1, float beta2, float epsilon, float momentum, bool nesterov)
    {
        Rule = rule;
        StepSize = stepSize;
        Rho = rho;
        Beta1 = beta1;
        Beta2 = beta2;
        Epsilon = epsilon;
        Momentum = momentum;
        Nesterov = nesterov ? 1 : 0;
    }

    public UpdateRule Rule { get; }
    public float StepSize { get; }
    public float Rho { get; }
    public float Beta1 { get; }
    public float Beta2 { get; }
    public float Epsilon { get; }
    public float Momentum { get; }

    /// <summary>1 for Nesterov momentum, else 0 (an int: kernels take no bool).</summary>
    public int Nesterov { get; }

    /// <summary>How many state arrays the rule keeps: RMSprop's mean squares, Adam's two moments, momentum's velocity.</summary>
    public int StateArrays => Rule switch
    {
        UpdateRule.RmsProp or UpdateRule.SgdMomentum => 1,
        UpdateRule.Adam => 2,
        _ => 0,
    };
}

/// <summary>
/// An optimizer kernel's argument: weights (P) and gradients (P), and the state arrays the rule
/// keeps (P each; any array where it keeps none), updated in place.
/// </summary>
public readonly struct OptimizerArguments
{
    public ArrayView<float> Weights { get; init; }
    public ArrayView<float> Gradients { get; init; }
    public ArrayView<float> State1 { get; init; }
    public ArrayView<float> State2 { get; init; }
    public OptimizerStep Step { get; init; }

    /// <summary>
    /// Partial sums (<see cref="Chunks"/>, <see cref="PartialsLength"/>) of the gradient of
    /// parameters [<see cref="PartialsStart"/>, <see cref="PartialsStart"/> + <see cref="PartialsLength"/>):
    /// a convolution's kernel gradient summed in chunks of positions (<see cref="ConvolutionKernels.ChunkRows"/>).
    /// Their gradient is the chunks' sum, in order, and is written to <see cref="Gradients"/> too;
    /// with <see cref="PartialsLength"/> 0, unread.
    /// </summary>
    public ArrayView<float> Partials { get; init; }

    public int PartialsStart { get; init; }

    public int PartialsLength { get; init; }

    public int Chunks { get; init; }

    /// <summary>
    /// Unread: it makes the 4-byte fields an even number, so the struct has no trailing padding,
    /// which strict OpenCL drivers (Mesa's) refuse in an argument (KernelArgumentLayoutTests).
    /// </summary>
    public int Reserved { get; init; }
}

/// <summary>
/// The optimizer's update of one layer's parameters, applied by that layer's gradient launch in
/// its epilogue where one work item or group sums each parameter's whole gradient: the
/// parameters and state arrays of the layer (any array where the rule keeps none), indexed as
/// its gradient is. Three views and eight 4-byte fields: no padding inside another argument.
/// </summary>
public readonly struct ParameterUpdate
{
    public ArrayView<float> Weights { get; init; }
    public ArrayView<float> State1 { get; init; }
    public ArrayView<float> State2 { get; init; }
    public OptimizerStep Step { get; init; }

    /// <summary>Parameter <paramref name="i"/> of the layer, whose gradient is <paramref name="g"/>: <see cref="OptimizerKernels.Update"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Apply(int i, float g) => OptimizerKernels.Update(Step, Weights, State1, State2, i, g);
}

/// <summary>
/// The optimizers, each one launch over the whole flat parameter array, with Keras' formulas
/// (ε added outside the square root). The per-element rules are shared with the fused step's
/// epilogue, so both round alike. Each kernel takes <see cref="OptimizerArguments"/>.
/// </summary>
public static class OptimizerKernels
{
    /// <summary>v ← ρ·v + (1 − ρ)·g²;  w ← w − lr·g / (√v + ε);  State1: the mean squares</summary>
    public static void RmsProp(OptimizerArguments a)
    {
        var step = a.Step;
        for (int i = GridStride.First, stride = GridStride.Step, count = a.Weights.IntLength; i < count; i += stride)
            a.Weights[i] -= RmsPropStep(Gradient(a, i), ref a.State1[i], step.StepSize, step.Rho, step.Epsilon);
    }

    /// <summary>
    /// m ← β1·m + (1 − β1)·g;  v ← β2·v + (1 − β2)·g²;  w ← w − lr_t·m / (√v + ε), with
    /// lr_t = lr·√(1 − β2ᵗ)/(1 − β1ᵗ) computed on the host for step t (Keras 2's Adam); State1, State2: m, v
    /// </summary>
    public static void Adam(OptimizerArguments a)
    {
        var step = a.Step;
        for (int i = GridStride.First, stride = GridStride.Step, count = a.Weights.IntLength; i < count; i += stride)
            a.Weights[i] -= AdamStep(Gradient(a, i), ref a.State1[i], ref a.State2[i], step.StepSize, step.Beta1, step.Beta2, step.Epsilon);
    }

    /// <summary>w ← w − lr·g</summary>
    public static void Sgd(OptimizerArguments a)
    {
        float learningRate = a.Step.StepSize;
        for (int i = GridStride.First, stride = GridStride.Step, count = a.Weights.IntLength; i < count; i += stride)
            a.Weights[i] -= learningRate * Gradient(a, i);
    }

    /// <summary>u ← μ·u − lr·g;  w ← w + u, or with Nesterov w ← w + μ·u − lr·g (Keras' momentum SGD); State1: u</summary>
    public static void SgdMomentum(OptimizerArguments a)
    {
        var step = a.Step;
        for (int i = GridStride.First, stride = GridStride.Step, count = a.Weights.IntLength; i < count; i += stride)
            a.Weights[i] += MomentumStep(Gradient(a, i), ref a.State1[i], step.StepSize, step.Momentum, step.Nesterov != 0);
    }

    /// <summary>
    /// Parameter i's gradient: read, or within the partials' range summed from them (and stored),
    /// chunk by chunk as <see cref="ConvolutionKernels.SumPartials"/> adds them. No division here:
    /// compilers may evaluate both sides of a condition, and PoCL's code trapped on one by zero.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Gradient(OptimizerArguments a, int i)
    {
        int local = i - a.PartialsStart;
        if (local < 0 || local >= a.PartialsLength)
            return a.Gradients[i];
        float sum = 0f;
        for (int chunk = 0; chunk < a.Chunks; chunk++)
            sum += a.Partials[chunk * a.PartialsLength + local];
        a.Gradients[i] = sum;
        return sum;
    }

    /// <summary>
    /// <paramref name="step"/>'s rule on parameter <paramref name="i"/> with gradient
    /// <paramref name="g"/>, as the kernels above apply it: for the epilogues that update a
    /// parameter where its gradient is summed (<see cref="ParameterUpdate"/>, the fused step).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Update(OptimizerStep step, ArrayView<float> weights, ArrayView<float> state1, ArrayView<float> state2, int i, float g)
    {
        // The rule is the same for every thread of a launch: the branch never diverges.
        if (step.Rule == UpdateRule.RmsProp)
            weights[i] -= RmsPropStep(g, ref state1[i], step.StepSize, step.Rho, step.Epsilon);
        else if (step.Rule == UpdateRule.Adam)
            weights[i] -= AdamStep(g, ref state1[i], ref state2[i], step.StepSize, step.Beta1, step.Beta2, step.Epsilon);
        else if (step.Rule == UpdateRule.Sgd)
            weights[i] -= step.StepSize * g;
        else
            weights[i] += MomentumStep(g, ref state1[i], step.StepSize, step.Momentum, step.Nesterov != 0);
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
