using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using MnistGpu.Kernels;

namespace MnistGpu.Engine.Backends.Host;

/// <summary>
/// The vector operations the host matrix multiply needs, over one hardware vector width. Code
/// generic over a struct implementing this is compiled once per width with every call inlined,
/// so one kernel serves AVX-512, AVX2+FMA and the portable <see cref="Vector{T}"/> fallback.
/// </summary>
internal interface ISimdFloat<TSelf>
    where TSelf : struct, ISimdFloat<TSelf>
{
    static abstract int Count { get; }

    static abstract bool IsSupported { get; }

    static abstract string Name { get; }

    static abstract TSelf Zero { get; }

    static abstract TSelf Broadcast(float value);

    static abstract TSelf Load(ref float source);

    static abstract void Store(TSelf value, ref float target);

    /// <summary>a·b + c, fused where the hardware can.</summary>
    static abstract TSelf MultiplyAdd(TSelf a, TSelf b, TSelf c);

    /// <summary>One lane of <see cref="MultiplyAdd"/>, rounded the same way: for the columns past the last whole vector.</summary>
    static abstract float ScalarMultiplyAdd(float a, float b, float c);

    static abstract TSelf Add(TSelf a, TSelf b);

    /// <summary>a·b, rounded on its own (never fused with a following add).</summary>
    static abstract TSelf Multiply(TSelf a, TSelf b);

    static abstract TSelf Subtract(TSelf a, TSelf b);

    static abstract TSelf Divide(TSelf a, TSelf b);

    static abstract TSelf SquareRoot(TSelf a);

    /// <summary>max(a, 0), the ReLU.</summary>
    static abstract TSelf Relu(TSelf a);

    /// <summary>value where mask &gt; 0, else 0: the ReLU's backward.</summary>
    static abstract TSelf WherePositive(TSelf mask, TSelf value);
}

internal readonly struct Avx512Float(Vector512<float> value) : ISimdFloat<Avx512Float>
{
    private readonly Vector512<float> value = value;

    public static int Count => Vector512<float>.Count;

    public static bool IsSupported => Avx512F.IsSupported;

    public static string Name => "AVX-512";

    public static Avx512Float Zero => new(Vector512<float>.Zero);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Avx512Float Broadcast(float value) => new(Vector512.Create(value));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Avx512Float Load(ref float source) => new(Vector512.LoadUnsafe(ref source));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(Avx512Float value, ref float target) => value.value.StoreUnsafe(ref target);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Avx512Float MultiplyAdd(Avx512Float a, Avx512Float b, Avx512Float c) => new(Avx512F.FusedMultiplyAdd(a.value, b.value, c.value));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float ScalarMultiplyAdd(float a, float b, float c) => MathF.FusedMultiplyAdd(a, b, c);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Avx512Float Add(Avx512Float a, Avx512Float b) => new(a.value + b.value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Avx512Float Multiply(Avx512Float a, Avx512Float b) => new(a.value * b.value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Avx512Float Subtract(Avx512Float a, Avx512Float b) => new(a.value - b.value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Avx512Float Divide(Avx512Float a, Avx512Float b) => new(a.value / b.value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Avx512Float SquareRoot(Avx512Float a) => new(Vector512.Sqrt(a.value));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Avx512Float Relu(Avx512Float a) => new(Vector512.Max(a.value, Vector512<float>.Zero));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Avx512Float WherePositive(Avx512Float mask, Avx512Float value) => new(Vector512.ConditionalSelect(Vector512.GreaterThan(mask.value, Vector512<float>.Zero), value.value, Vector512<float>.Zero));
}

internal readonly struct Avx2Float(Vector256<float> value) : ISimdFloat<Avx2Float>
{
    private readonly Vector256<float> value = value;

    public static int Count => Vector256<float>.Count;

    public static bool IsSupported => Avx2.IsSupported && Fma.IsSupported;

    public static string Name => "AVX2+FMA";

    public static Avx2Float Zero => new(Vector256<float>.Zero);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Avx2Float Broadcast(float value) => new(Vector256.Create(value));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Avx2Float Load(ref float source) => new(Vector256.LoadUnsafe(ref source));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(Avx2Float value, ref float target) => value.value.StoreUnsafe(ref target);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Avx2Float MultiplyAdd(Avx2Float a, Avx2Float b, Avx2Float c) => new(Fma.MultiplyAdd(a.value, b.value, c.value));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float ScalarMultiplyAdd(float a, float b, float c) => MathF.FusedMultiplyAdd(a, b, c);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Avx2Float Add(Avx2Float a, Avx2Float b) => new(a.value + b.value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Avx2Float Multiply(Avx2Float a, Avx2Float b) => new(a.value * b.value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Avx2Float Subtract(Avx2Float a, Avx2Float b) => new(a.value - b.value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Avx2Float Divide(Avx2Float a, Avx2Float b) => new(a.value / b.value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Avx2Float SquareRoot(Avx2Float a) => new(Vector256.Sqrt(a.value));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Avx2Float Relu(Avx2Float a) => new(Vector256.Max(a.value, Vector256<float>.Zero));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Avx2Float WherePositive(Avx2Float mask, Avx2Float value) => new(Vector256.ConditionalSelect(Vector256.GreaterThan(mask.value, Vector256<float>.Zero), value.value, Vector256<float>.Zero));
}

internal readonly struct PortableFloat(Vector<float> value) : ISimdFloat<PortableFloat>
{
    private readonly Vector<float> value = value;

    public static int Count => Vector<float>.Count;

    public static bool IsSupported => true;

    public static string Name => Vector.IsHardwareAccelerated ? $"Vector<float> ({Vector<float>.Count} lanes)" : "scalar";

    public static PortableFloat Zero => new(Vector<float>.Zero);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static PortableFloat Broadcast(float value) => new(new Vector<float>(value));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static PortableFloat Load(ref float source) => new(Vector.LoadUnsafe(ref source));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(PortableFloat value, ref float target) => value.value.StoreUnsafe(ref target);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static PortableFloat MultiplyAdd(PortableFloat a, PortableFloat b, PortableFloat c) => new((a.value * b.value) + c.value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float ScalarMultiplyAdd(float a, float b, float c) => (a * b) + c;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static PortableFloat Add(PortableFloat a, PortableFloat b) => new(a.value + b.value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static PortableFloat Multiply(PortableFloat a, PortableFloat b) => new(a.value * b.value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static PortableFloat Subtract(PortableFloat a, PortableFloat b) => new(a.value - b.value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static PortableFloat Divide(PortableFloat a, PortableFloat b) => new(a.value / b.value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static PortableFloat SquareRoot(PortableFloat a) => new(Vector.SquareRoot(a.value));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static PortableFloat Relu(PortableFloat a) => new(Vector.Max(a.value, Vector<float>.Zero));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static PortableFloat WherePositive(PortableFloat mask, PortableFloat value) => new(Vector.ConditionalSelect(Vector.GreaterThan(mask.value, Vector<float>.Zero), value.value, Vector<float>.Zero));
}

/// <summary>
/// The optimizers over spans with Keras' arithmetic (OptimizerKernels' formulas), for every host
/// caller alike: separate multiplies and adds (never fused), in one association, so a parameter
/// updated by any host path — the whole flat array at once or one gradient row at a time — gets
/// the same bits.
/// </summary>
internal static class SimdOptimizer
{
    /// <summary>One update of <paramref name="w"/> with <paramref name="g"/>; <paramref name="first"/> and <paramref name="second"/> are the state arrays the optimizer has (empty otherwise).</summary>
    public static void Apply<TVec>(Span<float> w, ReadOnlySpan<float> g, Span<float> first, Span<float> second, OptimizerStep step)
        where TVec : struct, ISimdFloat<TVec>
    {
        switch (step.Rule)
        {
            case UpdateRule.RmsProp:
                RmsProp<TVec>(w, g, first, step);
                break;
            case UpdateRule.Adam:
                Adam<TVec>(w, g, first, second, step);
                break;
            default:
                Sgd<TVec>(w, g, step.Rule == UpdateRule.SgdMomentum ? first : default, step);
                break;
        }
    }

    /// <summary>v ← ρ·v + ((1 − ρ)·g)·g;  w ← w − (lr·g) / (√v + ε)</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void RmsProp<TVec>(Span<float> w, ReadOnlySpan<float> g, Span<float> v, OptimizerStep step)
        where TVec : struct, ISimdFloat<TVec>
    {
        var rho = TVec.Broadcast(step.Rho);
        var oneMinusRho = TVec.Broadcast(1f - step.Rho);
        var lr = TVec.Broadcast(step.StepSize);
        var eps = TVec.Broadcast(step.Epsilon);
        ref float wr = ref MemoryMarshal.GetReference(w);
        ref float gr = ref MemoryMarshal.GetReference(g);
        ref float vr = ref MemoryMarshal.GetReference(v);
        int i = 0;
        for (; i + TVec.Count <= w.Length; i += TVec.Count)
        {
            var gi = TVec.Load(ref Unsafe.Add(ref gr, i));
            var vi = TVec.Add(TVec.Multiply(rho, TVec.Load(ref Unsafe.Add(ref vr, i))), TVec.Multiply(TVec.Multiply(oneMinusRho, gi), gi));
            TVec.Store(vi, ref Unsafe.Add(ref vr, i));
            var change = TVec.Divide(TVec.Multiply(lr, gi), TVec.Add(TVec.SquareRoot(vi), eps));
            TVec.Store(TVec.Subtract(TVec.Load(ref Unsafe.Add(ref wr, i)), change), ref Unsafe.Add(ref wr, i));
        }

        for (; i < w.Length; i++)
            w[i] -= OptimizerKernels.RmsPropStep(g[i], ref v[i], step.StepSize, step.Rho, step.Epsilon);
    }

    /// <summary>m ← β1·m + (1 − β1)·g;  v ← β2·v + ((1 − β2)·g)·g;  w ← w − (lr_t·m) / (√v + ε)</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Adam<TVec>(Span<float> w, ReadOnlySpan<float> g, Span<float> m, Span<float> v, OptimizerStep step)
        where TVec : struct, ISimdFloat<TVec>
    {
        var beta1 = TVec.Broadcast(step.Beta1);
        var oneMinusBeta1 = TVec.Broadcast(1f - step.Beta1);
        var beta2 = TVec.Broadcast(step.Beta2);
        var oneMinusBeta2 = TVec.Broadcast(1f - step.Beta2);
        var size = TVec.Broadcast(step.StepSize);
        var eps = TVec.Broadcast(step.Epsilon);
        ref float wr = ref MemoryMarshal.GetReference(w);
        ref float gr = ref MemoryMarshal.GetReference(g);
        ref float mr = ref MemoryMarshal.GetReference(m);
        ref float vr = ref MemoryMarshal.GetReference(v);
        int i = 0;
        for (; i + TVec.Count <= w.Length; i += TVec.Count)
        {
            var gi = TVec.Load(ref Unsafe.Add(ref gr, i));
            var mi = TVec.Add(TVec.Multiply(beta1, TVec.Load(ref Unsafe.Add(ref mr, i))), TVec.Multiply(oneMinusBeta1, gi));
            var vi = TVec.Add(TVec.Multiply(beta2, TVec.Load(ref Unsafe.Add(ref vr, i))), TVec.Multiply(TVec.Multiply(oneMinusBeta2, gi), gi));
            TVec.Store(mi, ref Unsafe.Add(ref mr, i));
            TVec.Store(vi, ref Unsafe.Add(ref vr, i));
            var change = TVec.Divide(TVec.Multiply(size, mi), TVec.Add(TVec.SquareRoot(vi), eps));
            TVec.Store(TVec.Subtract(TVec.Load(ref Unsafe.Add(ref wr, i)), change), ref Unsafe.Add(ref wr, i));
        }

        for (; i < w.Length; i++)
            w[i] -= OptimizerKernels.AdamStep(g[i], ref m[i], ref v[i], step.StepSize, step.Beta1, step.Beta2, step.Epsilon);
    }

    /// <summary>w ← w − lr·g; with momentum u ← μ·u − lr·g, w ← w + u (Nesterov: w ← w + (μ·u − lr·g)).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Sgd<TVec>(Span<float> w, ReadOnlySpan<float> g, Span<float> velocity, OptimizerStep step)
        where TVec : struct, ISimdFloat<TVec>
    {
        bool momentum = step.Rule == UpdateRule.SgdMomentum;
        bool nesterov = step.Nesterov != 0;
        var lr = TVec.Broadcast(step.StepSize);
        var mu = TVec.Broadcast(step.Momentum);
        ref float wr = ref MemoryMarshal.GetReference(w);
        ref float gr = ref MemoryMarshal.GetReference(g);
        ref float ur = ref MemoryMarshal.GetReference(velocity);
        int i = 0;
        for (; i + TVec.Count <= w.Length; i += TVec.Count)
        {
            var scaled = TVec.Multiply(lr, TVec.Load(ref Unsafe.Add(ref gr, i)));
            var wi = TVec.Load(ref Unsafe.Add(ref wr, i));
            if (!momentum)
            {
                TVec.Store(TVec.Subtract(wi, scaled), ref Unsafe.Add(ref wr, i));
                continue;
            }

            var ui = TVec.Subtract(TVec.Multiply(mu, TVec.Load(ref Unsafe.Add(ref ur, i))), scaled);
            TVec.Store(ui, ref Unsafe.Add(ref ur, i));
            var change = nesterov ? TVec.Subtract(TVec.Multiply(mu, ui), scaled) : ui;
            TVec.Store(TVec.Add(wi, change), ref Unsafe.Add(ref wr, i));
        }

        for (; i < w.Length; i++)
        {
            if (momentum)
                w[i] += OptimizerKernels.MomentumStep(g[i], ref velocity[i], step.StepSize, step.Momentum, nesterov);
            else
                w[i] -= step.StepSize * g[i];
        }
    }
}
