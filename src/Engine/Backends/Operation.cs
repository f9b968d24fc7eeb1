using System.Numerics;
using ILGPU;

namespace MnistGpu.Engine.Backends;

/// <summary>
/// An operation that brings its own forms, one per kind of backend, so that a new operation lands
/// in its own folder (Engine/Operations/NAME) instead of in every backend: its double-precision
/// reference, its host form and its ILGPU launch. A backend runs it through
/// <see cref="ITrainingBackend.Run"/>, which picks the form; a wrapper
/// (<see cref="DelegatingBackend"/>) sees it whole, by its <see cref="Label"/>. The kernels it
/// launches are static <see cref="KernelEntry"/> properties of its type, found by
/// <see cref="KernelInventory"/>.
/// </summary>
public abstract class Operation
{
    /// <summary>What it does, for profiles, recorded steps and failures: e.g. "dropout forward 0.5".</summary>
    public abstract string Label { get; }

    /// <summary>Floating-point operations, for bench's GFLOP/s (0: not counted).</summary>
    public virtual long Flops => 0;

    /// <summary>The form in plain double-precision loops: the yardstick the others are checked against.</summary>
    internal abstract void RunReference();

    /// <summary>The form on the host's SIMD backend, <paramref name="host"/> (a <c>Host.HostBackend</c>, named by its interface so that this folder does not depend on the host's).</summary>
    internal abstract void RunHost(ITrainingBackend host);

    /// <summary>The form as ILGPU kernel launches (<see cref="IlgpuBackend.Launch{T}(KernelEntry, int, T, string)"/>).</summary>
    internal abstract void RunIlgpu(IlgpuBackend device);

    /// <summary>A reference array's values, in double precision.</summary>
    protected static Span<double> Precise<T>(DeviceArray<T> array)
        where T : unmanaged, INumber<T> => HostArray<T, double>.Of(array).Span;

    /// <summary>A host array's values.</summary>
    protected static Span<T> OnHost<T>(DeviceArray<T> array)
        where T : unmanaged, INumber<T> => HostArray<T, T>.Of(array).Span;

    /// <summary>An ILGPU array's view, for a kernel's arguments.</summary>
    protected static ArrayView<T> View<T>(DeviceArray<T> array)
        where T : unmanaged, INumber<T> => IlgpuBackend.View(array);
}
