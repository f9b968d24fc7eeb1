using System.Numerics;
using MnistGpu.Kernels;

namespace MnistGpu.Engine.Backends;

/// <summary>
/// The operations a training step is made of. The trainer, evaluation and verification drive a
/// device only through this interface, so a new backend (another accelerator, a host SIMD path)
/// plugs in without touching them. Operations may run asynchronously; <see cref="Download{T}"/>
/// and <see cref="Synchronize"/> wait for everything issued before them.
/// Shapes: B = rows in this batch, I = layer inputs, O = layer outputs, C = classes, P = pixels.
/// </summary>
public interface ITrainingBackend : IDisposable
{
    /// <summary>What this backend runs on, for people: e.g. "cpu: ILGPU CPU accelerator".</summary>
    string DeviceName { get; }

    /// <summary>Room for new arrays: what the device has free, what --memory-limit leaves, and whether the device's memory is the host's.</summary>
    DeviceMemory Memory { get; }

    /// <summary>Bytes that may still be allocated here: what the device has free, within any memory limit.</summary>
    long AvailableMemoryBytes => Memory.AvailableBytes;

    /// <summary>A new zero-filled array.</summary>
    DeviceArray<T> Allocate<T>(int length)
        where T : unmanaged, INumber<T>;

    /// <summary>A view of elements [offset, offset + length) sharing the array's storage.</summary>
    DeviceArray<T> Slice<T>(DeviceArray<T> array, int offset, int length)
        where T : unmanaged, INumber<T>;

    void Upload<T>(ReadOnlySpan<T> source, DeviceArray<T> target)
        where T : unmanaged, INumber<T>;

    void Download<T>(DeviceArray<T> source, Span<T> target)
        where T : unmanaged, INumber<T>;

    /// <summary>
    /// The backend whose own fused step runners may drive the arrays allocated here, or null for
    /// separate operations only: by default this one. A wrapper passes its inner backend's on, so
    /// wrapping keeps fusion, or returns null to opt out (the profiler, which times each operation).
    /// The step runners choose by what this backend is and what the network needs, never by identity.
    /// </summary>
    ITrainingBackend? FusionTarget => this;

    /// <summary>Kernel launches issued so far; by default 0, for a backend that launches none.</summary>
    long KernelLaunches => 0;

    /// <summary>Host time spent issuing those launches (what a launch-bound GPU step costs the CPU).</summary>
    TimeSpan LaunchIssueTime => TimeSpan.Zero;

    /// <summary>x (B,I) · W (I,O) + b (O) → y (B,O), ReLU applied when <paramref name="relu"/>.</summary>
    void DenseForward(DenseParameters layer, DeviceArray<float> x, DeviceArray<float> y, int batch, bool relu);

    /// <summary>dy (B,O) · Wᵀ (O,I) → dx (B,I): the input gradient, ⊙ [activation (B,I) &gt; 0] through the ReLU below when <paramref name="relu"/>.</summary>
    void DenseBackwardInput(DenseParameters layer, DeviceArray<float> dy, DeviceArray<float> activation, DeviceArray<float> dx, int batch, bool relu);

    /// <summary>xᵀ (I,B) · dy (B,O) → dW (I,O); Σ_b dy (B,O) → db (O).</summary>
    void DenseBackwardParameters(DenseParameters gradients, DeviceArray<float> x, DeviceArray<float> dy, int batch);

    /// <summary>
    /// x (B,H,W,C) ⊛ K (k,k,C,F) + b (F) → y (B,OH,OW,F), ReLU applied when <paramref name="relu"/>;
    /// <paramref name="scratch"/> (at least B·OH·OW·k·k·C) is working space, left undefined.
    /// </summary>
    void ConvolutionForward(ConvolutionParameters layer, DeviceArray<float> x, DeviceArray<float> y, DeviceArray<float> scratch, int batch, bool relu);

    /// <summary>x (B,H,W,C), dy (B,OH,OW,F) → dK (k,k,C,F) and db (F) = Σ dy, with <paramref name="scratch"/> as in the forward.</summary>
    void ConvolutionBackwardParameters(ConvolutionParameters gradients, DeviceArray<float> x, DeviceArray<float> dy, DeviceArray<float> scratch, int batch);

    /// <summary>dy (B,OH,OW,F), K → dx (B,H,W,C): the input gradient, ⊙ [activation (B,H,W,C) &gt; 0] through the ReLU below when <paramref name="relu"/>.</summary>
    void ConvolutionBackwardInput(ConvolutionParameters layer, DeviceArray<float> dy, DeviceArray<float> activation, DeviceArray<float> dx, DeviceArray<float> scratch, int batch, bool relu);

    /// <summary>
    /// One optimizer update, elementwise over whole flat arrays: weights (P) with gradients (P),
    /// the state's arrays (P each) updated in place; the formulas are <see cref="OptimizerKernels"/>'.
    /// </summary>
    void OptimizerUpdate(DeviceArray<float> weights, DeviceArray<float> gradients, OptimizerState state, OptimizerStep update);

    /// <summary>Runs an operation that brings its own forms (<see cref="Operation"/>): this backend's.</summary>
    void Run(Operation operation);

    /// <summary>Waits until every operation issued so far has finished.</summary>
    void Synchronize();

    /// <summary>Which implementation runs <paramref name="problem"/> here, for benchmark reports: e.g. "SharedMemoryTiled".</summary>
    string MatMulImplementation(MatMulProblem problem);

    /// <summary>Every matrix-multiply implementation this backend can run, planned or not, by name.</summary>
    IReadOnlyList<string> MatMulVariants { get; }

    /// <summary>
    /// The implementation every product runs with instead of the planned one (null: the plan), so
    /// tests and benchmarks reach each one; one of <see cref="MatMulVariants"/>. By default, for a
    /// backend with one implementation, there is nothing to choose; naming it is allowed, so a
    /// test can ask every backend alike.
    /// </summary>
    /// <exception cref="ArgumentException">Not one of <see cref="MatMulVariants"/>.</exception>
    string? MatMulVariantOverride
    {
        get => null;
        set
        {
            if (value is not null && !MatMulVariants.Contains(value))
                throw new ArgumentException($"{DeviceName} runs only {string.Join(", ", MatMulVariants.Select(v => $"'{v}'"))}", nameof(value));
        }
    }
}
