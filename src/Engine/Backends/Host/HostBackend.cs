using System.Numerics;
using System.Numerics.Tensors;
using MnistGpu.Kernels;

namespace MnistGpu.Engine.Backends.Host;

/// <summary>
/// The training operations on the host CPU itself, with SIMD (AVX-512, else AVX2+FMA, else
/// <see cref="Vector{T}"/>) and a fixed pool of threads: no native dependency, no simulated GPU
/// threads. It solves the same <see cref="MatMulProblem"/>s as the ILGPU kernels and is verified
/// against the same reference. Operations run synchronously on the caller's thread and the pool.
/// </summary>
public sealed class HostBackend : ITrainingBackend
{
    private readonly WorkerPool pool;
    private readonly IProducts products;
    private readonly IOptimizerWork optimizer;
    private readonly MemoryBudget memory;

    /// <param name="threads">Threads to compute with, the caller's included; default: one per core.</param>
    /// <param name="memoryLimitBytes">Caps what this backend may allocate, below what the host has.</param>
    public HostBackend(int? threads = null, long? memoryLimitBytes = null)
    {
        pool = new WorkerPool(threads ?? Environment.ProcessorCount);
        (products, optimizer) = Avx512Float.IsSupported ? ((IProducts)new Products<Avx512Float>(pool), (IOptimizerWork)new OptimizerWork<Avx512Float>(pool.Threads))
            : Avx2Float.IsSupported ? (new Products<Avx2Float>(pool), new OptimizerWork<Avx2Float>(pool.Threads))
            : (new Products<PortableFloat>(pool), new OptimizerWork<PortableFloat>(pool.Threads));
        DeviceName = $"host ({SimdName}, {pool.Threads} threads)";
        memory = new MemoryBudget(DeviceName, memoryLimitBytes);
    }

    /// <summary>The vector instructions the host backend uses on this CPU: "AVX-512", "AVX2+FMA" or the portable fallback.</summary>
    public static string SimdName => Avx512Float.IsSupported ? Avx512Float.Name : Avx2Float.IsSupported ? Avx2Float.Name : PortableFloat.Name;

    private static string Implementation => $"host {SimdName} micro-kernel";

    public string DeviceName { get; }

    public DeviceMemory Memory => memory.Room(HostMemory.AvailableBytes(), sharesHostMemory: true);

    /// <exception cref="EngineException">The host (or the configured limit) cannot hold the array.</exception>
    public DeviceArray<T> Allocate<T>(int length)
        where T : unmanaged, INumber<T>
    {
        long bytes = (long)length * System.Runtime.CompilerServices.Unsafe.SizeOf<T>();
        memory.Take(bytes);
        try
        {
            return new HostArray<T, T>(new T[length], 0, length, () => memory.Release(bytes));
        }
        catch (OutOfMemoryException e)
        {
            memory.Release(bytes);
            throw memory.OutOfMemory(bytes, "the host has no room for it", e);
        }
    }

    public DeviceArray<T> Slice<T>(DeviceArray<T> array, int offset, int length)
        where T : unmanaged, INumber<T> => HostArray<T, T>.Of(array).Slice(offset, length);

    public void Upload<T>(ReadOnlySpan<T> source, DeviceArray<T> target)
        where T : unmanaged, INumber<T>
    {
        ArgumentOutOfRangeException.ThrowIfNotEqual(source.Length, target.Length);
        source.CopyTo(Span(target));
    }

    public void Download<T>(DeviceArray<T> source, Span<T> target)
        where T : unmanaged, INumber<T>
    {
        ArgumentOutOfRangeException.ThrowIfNotEqual(target.Length, source.Length);
        Span(source).CopyTo(target);
    }

    public void DenseForward(DenseParameters layer, DeviceArray<float> x, DeviceArray<float> y, int batch, bool relu) =>
        products.Multiply(MatMulProblem.Forward(batch, layer.Inputs, layer.Outputs, relu), Storage(x), Storage(layer.Weights), Storage(y), Storage(layer.Bias));

    public void DenseBackwardInput(DenseParameters layer, DeviceArray<float> dy, DeviceArray<float> activation, DeviceArray<float> dx, int batch, bool relu) =>
        products.Multiply(MatMulProblem.BackwardInput(batch, layer.Inputs, layer.Outputs, relu), Storage(dy), Storage(layer.Weights), Storage(dx), Storage(activation));

    public void DenseBackwardParameters(DenseParameters gradients, DeviceArray<float> x, DeviceArray<float> dy, int batch) =>
        products.Multiply(MatMulProblem.BackwardParameters(batch, gradients.Inputs, gradients.Outputs), Storage(x), Storage(dy), Storage(gradients.All), Storage(dy));

    // The host's convolutions pack their patches where the products read them: the scratch is left unused.
    public void ConvolutionForward(ConvolutionParameters layer, DeviceArray<float> x, DeviceArray<float> y, DeviceArray<float> scratch, int batch, bool relu) =>
        products.ConvolutionForward(layer.Shape, Storage(x), Storage(layer.Matrix.Weights), Storage(layer.Matrix.Bias), Storage(y), batch, relu);

    public void ConvolutionBackwardParameters(ConvolutionParameters gradients, DeviceArray<float> x, DeviceArray<float> dy, DeviceArray<float> scratch, int batch) =>
        products.ConvolutionBackwardParameters(gradients.Shape, Storage(x), Storage(dy), Storage(gradients.Matrix.All), batch);

    public void ConvolutionBackwardInput(ConvolutionParameters layer, DeviceArray<float> dy, DeviceArray<float> activation, DeviceArray<float> dx, DeviceArray<float> scratch, int batch, bool relu) =>
        products.ConvolutionBackwardInput(layer.Shape, Storage(dy), Storage(layer.Matrix.Weights), Storage(activation), Storage(dx), batch, relu);

    public void Run(Operation operation) => operation.RunHost(this);

    public void OptimizerUpdate(DeviceArray<float> weights, DeviceArray<float> gradients, OptimizerState state, OptimizerStep update)
    {
        var arrays = state.Arrays;
        optimizer.Set(Storage(weights), Storage(gradients), arrays.Count > 0 ? Storage(arrays[0]) : default, arrays.Count > 1 ? Storage(arrays[1]) : default, update);
        pool.Run(pool.Threads, optimizer);
        optimizer.Set(default, default, default, default, default);
    }

    public void Synchronize()
    {
    }

    /// <summary>The threads every operation here runs on: what a host step runner computes with.</summary>
    internal WorkerPool Pool => pool;

    public string MatMulImplementation(MatMulProblem problem) => Implementation;

    public IReadOnlyList<string> MatMulVariants => [Implementation];

    public void Dispose() => pool.Dispose();

    private static Span<T> Span<T>(DeviceArray<T> array)
        where T : unmanaged, INumber<T> => HostArray<T, T>.Of(array).Span;

    private static Memory<float> Storage(DeviceArray<float> array) => HostArray<float, float>.Of(array).Memory;

    /// <summary>The products, dense and convolutional, over the widest vectors the CPU has.</summary>
    private interface IProducts
    {
        void Multiply(MatMulProblem problem, Memory<float> a, Memory<float> b, Memory<float> c, Memory<float> epilogueOperand);

        void ConvolutionForward(ConvolutionShape shape, Memory<float> x, Memory<float> kernels, Memory<float> bias, Memory<float> y, int batch, bool relu);

        void ConvolutionBackwardInput(ConvolutionShape shape, Memory<float> dy, Memory<float> kernels, Memory<float> activation, Memory<float> dx, int batch, bool relu);

        void ConvolutionBackwardParameters(ConvolutionShape shape, Memory<float> x, Memory<float> dy, Memory<float> gradients, int batch);
    }

    private sealed class Products<TVec>(WorkerPool pool) : IProducts
        where TVec : struct, ISimdFloat<TVec>
    {
        private readonly HostMatMul<TVec> dense = new(pool);
        private readonly HostConvolutionProducts<TVec> convolutions = new(pool);

        public void Multiply(MatMulProblem problem, Memory<float> a, Memory<float> b, Memory<float> c, Memory<float> epilogueOperand) =>
            dense.Multiply(problem, a, b, c, epilogueOperand);

        public void ConvolutionForward(ConvolutionShape shape, Memory<float> x, Memory<float> kernels, Memory<float> bias, Memory<float> y, int batch, bool relu) =>
            convolutions.Forward(shape, x, kernels, bias, y, batch, relu);

        public void ConvolutionBackwardInput(ConvolutionShape shape, Memory<float> dy, Memory<float> kernels, Memory<float> activation, Memory<float> dx, int batch, bool relu) =>
            convolutions.BackwardInput(shape, dy, kernels, activation, dx, batch, relu);

        public void ConvolutionBackwardParameters(ConvolutionShape shape, Memory<float> x, Memory<float> dy, Memory<float> gradients, int batch) =>
            convolutions.BackwardParameters(shape, x, dy, gradients, batch);
    }

    /// <summary>An optimizer update over the flat parameter array, one contiguous share per thread.</summary>
    private interface IOptimizerWork : IParallelWork
    {
        void Set(Memory<float> w, Memory<float> g, Memory<float> first, Memory<float> second, OptimizerStep step);
    }

    private sealed class OptimizerWork<TVec>(int parts) : IOptimizerWork
        where TVec : struct, ISimdFloat<TVec>
    {
        private Memory<float> weights, gradients, first, second;
        private OptimizerStep update;

        public void Set(Memory<float> w, Memory<float> g, Memory<float> first, Memory<float> second, OptimizerStep step)
        {
            (weights, gradients, this.first, this.second) = (w, g, first, second);
            update = step;
        }

        public void Execute(int part)
        {
            int count = weights.Length;
            int from = count * part / parts, to = count * (part + 1) / parts;
            SimdOptimizer.Apply<TVec>(weights.Span[from..to], gradients.Span[from..to], Share(first), Share(second), update);

            Span<float> Share(Memory<float> state) => state.IsEmpty ? default : state.Span[from..to];
        }
    }
}
