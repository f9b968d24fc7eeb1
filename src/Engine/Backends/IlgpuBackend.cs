using System.Diagnostics;
using System.Numerics;
using System.Runtime.InteropServices;
using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using ILGPU.Runtime.Cuda;
using ILGPU.Runtime.OpenCL;
using MnistGpu.Kernels;

namespace MnistGpu.Engine.Backends;

/// <summary>
/// Runs the training operations as ILGPU kernels on one accelerator (CUDA, OpenCL or ILGPU's
/// CPU accelerator). Kernels are compiled once, here; each operation is one launch on the
/// accelerator's default stream, so nothing waits until a download or <see cref="Synchronize"/>.
/// </summary>
public sealed class IlgpuBackend : ITrainingBackend
{
    private readonly Context context;
    private readonly Accelerator accelerator;
    private readonly LaunchPlanner launch;
    private readonly MemoryBudget memory;
    private MatMulVariant? variantOverride;

    private readonly Action<KernelConfig, ArrayView<byte>, ArrayView<byte>, ArrayView<int>, int, ArrayView<float>, ArrayView<int>, int, int> gatherBatch;
    private readonly Dictionary<MatMulVariant, Action<KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, MatMulProblem>> matMul = [];
    private readonly Action<KernelConfig, ArrayView<float>, ArrayView<int>, ArrayView<float>, ArrayView<float>, ArrayView<int>, int, int, int> softmaxForward;
    private readonly Action<KernelConfig, ArrayView<float>, ArrayView<int>, ArrayView<float>, ArrayView<float>, ArrayView<int>, int, int, int> softmaxForwardBackward;
    private readonly Action<KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, float, float, float> rmsProp;
    private readonly Action<KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, float, float, float, float> adam;
    private readonly Action<KernelConfig, ArrayView<float>, ArrayView<float>, int, float> sgd;
    private readonly Action<KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, float, float, int> sgdMomentum;
    private readonly Action<KernelConfig, FusedStep> fusedHiddenForward;
    private readonly Action<KernelConfig, FusedStep, int> fusedTail;
    private readonly Action<KernelConfig, FusedStep> fusedGradients;
    private readonly string fusedHiddenForwardName, fusedTailName, fusedGradientsName;
    private long launches;
    private long issueTicks;

    /// <summary>
    /// Creates an accelerator on <paramref name="device"/> and compiles the kernels; the backend
    /// owns <paramref name="context"/> from here on. <paramref name="memoryLimitBytes"/> caps what
    /// this backend may allocate, below what the device has. <paramref name="profile"/> plans
    /// launches for another device's limits than this accelerator's (tests of GPU launch shapes).
    /// </summary>
    /// <param name="fusedVariant">Which form of the fused step's kernels to use instead of the planned one (tests of both forms on one device).</param>
    /// <param name="planAsGpu">Plans every launch as for a GPU (shared-memory tiles, group reductions) even on a device whose threads are CPU cores: to check the GPU kernels under a simulator.</param>
    public IlgpuBackend(Context context, Device device, string deviceName, long? memoryLimitBytes = null, DeviceProfile? profile = null, FusedVariant? fusedVariant = null, bool planAsGpu = false)
    {
        this.context = context;
        accelerator = device.CreateAccelerator(context);
        var own = DeviceProfile.Of(accelerator);
        launch = new LaunchPlanner(profile ?? (planAsGpu ? own with { RunsOnCpu = false } : own), fusedVariant);
        DeviceName = deviceName;
        memory = new MemoryBudget(deviceName, memoryLimitBytes);

        gatherBatch = accelerator.LoadStreamKernel<ArrayView<byte>, ArrayView<byte>, ArrayView<int>, int, ArrayView<float>, ArrayView<int>, int, int>(GatherKernels.Batch);
        softmaxForward = accelerator.LoadStreamKernel<ArrayView<float>, ArrayView<int>, ArrayView<float>, ArrayView<float>, ArrayView<int>, int, int, int>(SoftmaxCrossEntropyKernels.Forward);
        softmaxForwardBackward = accelerator.LoadStreamKernel<ArrayView<float>, ArrayView<int>, ArrayView<float>, ArrayView<float>, ArrayView<int>, int, int, int>(SoftmaxCrossEntropyKernels.ForwardBackward);
        rmsProp = accelerator.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, int, float, float, float>(OptimizerKernels.RmsProp);
        adam = accelerator.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, float, float, float, float>(OptimizerKernels.Adam);
        sgd = accelerator.LoadStreamKernel<ArrayView<float>, ArrayView<float>, int, float>(OptimizerKernels.Sgd);
        sgdMomentum = accelerator.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, int, float, float, int>(OptimizerKernels.SgdMomentum);
        foreach (var variant in launch.Variants)
            LoadMatMul(variant);
        bool tiled = launch.FusedVariant == FusedVariant.Tiled;
        Action<FusedStep> hiddenForward = tiled ? FusedStepKernels.HiddenForwardTiled : FusedStepKernels.HiddenForwardPanel;
        // OpenCL drivers (PoCL, NVIDIA's) lack the work-group collectives ILGPU.Algorithms reduces with there.
        Action<FusedStep, int> tail = !tiled ? FusedStepKernels.TailPerRow
            : accelerator is CLAccelerator ? FusedStepKernels.TailPerGroup<FusedStepKernels.SharedMemoryGroupSum>
            : FusedStepKernels.TailPerGroup<FusedStepKernels.AlgorithmsGroupSum>;
        Action<FusedStep> gradients = tiled ? FusedStepKernels.GradientsUpdateTiled : FusedStepKernels.GradientsUpdatePanel;
        fusedHiddenForward = accelerator.LoadStreamKernel(hiddenForward);
        fusedTail = accelerator.LoadStreamKernel(tail);
        fusedGradients = accelerator.LoadStreamKernel(gradients);
        (fusedHiddenForwardName, fusedTailName, fusedGradientsName) = (KernelName(hiddenForward), KernelName(tail), KernelName(gradients));
    }

    public string DeviceName { get; }

    /// <summary>Whether training steps and evaluation batches run as the fused launches of <see cref="FusedStepKernels"/>; false: the compositions.</summary>
    public bool FusedSteps { get; set; } = true;

    public long KernelLaunches => launches;

    public TimeSpan LaunchIssueTime => Stopwatch.GetElapsedTime(0, issueTicks);

    public DeviceMemory Memory => memory.Room(
        accelerator switch
        {
            CudaAccelerator cuda => cuda.GetFreeMemory(),
            CPUAccelerator => HostMemory.AvailableBytes(),
            _ => accelerator.MemorySize - memory.AllocatedBytes,
        },
        sharesHostMemory: accelerator is CPUAccelerator);

    /// <summary>The launch plan in use, for reports.</summary>
    public LaunchPlanner Launches => launch;

    public IReadOnlyList<string> MatMulVariants => launch.RunnableVariants.Select(v => v.ToString()).ToList();

    /// <summary>The variant every product runs with instead of the planned one, compiled when first chosen; null: the plan.</summary>
    /// <exception cref="ArgumentException">The name is not a variant this device can run.</exception>
    public string? MatMulVariantOverride
    {
        get => variantOverride?.ToString();
        set
        {
            if (value is null)
            {
                variantOverride = null;
                return;
            }

            if (!Enum.TryParse(value, out MatMulVariant variant) || !launch.RunnableVariants.Contains(variant))
                throw new ArgumentException($"{DeviceName} cannot run a '{value}' matrix multiply; it runs {string.Join(", ", MatMulVariants)}", nameof(value));
            LoadMatMul(variant);
            variantOverride = variant;
        }
    }

    /// <summary>
    /// ILGPU's CPU accelerator configured as <paramref name="device"/> (default: 4 warps of 4
    /// threads); <see cref="CPUDevice.Nvidia"/> runs kernels with NVIDIA-sized groups and warps.
    /// </summary>
    public static IlgpuBackend CreateCpuAccelerator(CPUDevice? device = null, long? memoryLimitBytes = null, DeviceProfile? profile = null)
    {
        var context = IlgpuContexts.Create(builder => builder.CPU(device ?? CPUDevice.Default));
        return new IlgpuBackend(context, context.GetCPUDevice(0), "cpu:0 (ILGPU CPU accelerator)", memoryLimitBytes, profile);
    }

    /// <exception cref="EngineException">The device (or the configured limit) cannot hold the array.</exception>
    public DeviceArray<T> Allocate<T>(int length)
        where T : unmanaged, INumber<T>
    {
        long bytes = (long)length * System.Runtime.CompilerServices.Unsafe.SizeOf<T>();
        memory.Take(bytes);
        MemoryBuffer1D<T, Stride1D.Dense> buffer;
        try
        {
            buffer = accelerator.Allocate1D<T>(length);
        }
        catch (Exception e) when (e is OutOfMemoryException or AcceleratorException or InvalidOperationException)
        {
            memory.Release(bytes);
            throw memory.OutOfMemory(bytes, accelerator is CudaAccelerator cuda ? $"{cuda.GetFreeMemory():N0} bytes free" : e.Message.ReplaceLineEndings(" "), e);
        }

        buffer.MemSetToZero();
        return new IlgpuArray<T>(buffer, buffer.View, () => memory.Release(bytes));
    }

    public DeviceArray<T> Slice<T>(DeviceArray<T> array, int offset, int length)
        where T : unmanaged, INumber<T>
    {
        array.RequireRange(offset, length);
        return new IlgpuArray<T>(owner: null, View(array).SubView(offset, length), released: null);
    }

    // ILGPU copies through the address of the CPU span it is given, which the garbage collector
    // may move while the copy runs unless it is pinned: a download into a small (non-LOH) array
    // then landed in the array's old place and left zeros, under load, in 1 of ~5 test runs.
    public unsafe void Upload<T>(ReadOnlySpan<T> source, DeviceArray<T> target)
        where T : unmanaged, INumber<T>
    {
        ArgumentOutOfRangeException.ThrowIfNotEqual(source.Length, target.Length);
        fixed (T* pinned = source)
            View(target).CopyFromCPU(ref *pinned, source.Length);
    }

    public unsafe void Download<T>(DeviceArray<T> source, Span<T> target)
        where T : unmanaged, INumber<T>
    {
        ArgumentOutOfRangeException.ThrowIfNotEqual(target.Length, source.Length);
        fixed (T* pinned = target)
            View(source).CopyToCPU(ref *pinned, target.Length);
    }

    /// <summary>Launch 1 of the fused step (<see cref="FusedStepKernels"/>): the first hidden layer's output, x gathered from the images.</summary>
    internal void FusedHiddenForward(FusedStep step)
    {
        long issued = Launching(fusedHiddenForwardName);
        fusedHiddenForward(launch.ForFusedHiddenForward(step.Batch, step.HiddenUnits), step);
        Issued(issued);
    }

    /// <summary>Launch 2: the output layer and softmax-cross-entropy; with <paramref name="backward"/>, dz and the last hidden layer's gradient too.</summary>
    internal void FusedTail(FusedStep step, bool backward)
    {
        long issued = Launching(fusedTailName);
        fusedTail(launch.ForFusedTail(step.Batch), step, backward ? 1 : 0);
        Issued(issued);
    }

    /// <summary>Launch 3: every dense layer's (inputs, outputs) parameter gradients and the optimizer's update.</summary>
    internal void FusedGradients(FusedStep step, IReadOnlyList<(int Inputs, int Outputs)> layers)
    {
        long issued = Launching(fusedGradientsName);
        fusedGradients(launch.ForFusedGradients(layers), step);
        Issued(issued);
    }

    public void GatherBatch(BatchSource source, int start, int batch, DeviceArray<float> x, DeviceArray<int> labels)
    {
        long issued = Launching("GatherKernels.Batch");
        gatherBatch(launch.For(batch * source.Pixels), View(source.Images), View(source.Labels), View(source.Order), start, View(x), View(labels), batch, source.Pixels);
        Issued(issued);
    }

    public void DenseForward(DenseParameters layer, DeviceArray<float> x, DeviceArray<float> y, int batch, bool relu) =>
        Multiply(MatMulProblem.Forward(batch, layer.Inputs, layer.Outputs, relu), x, layer.Weights, y, layer.Bias);

    public void DenseBackwardInput(DenseParameters layer, DeviceArray<float> dy, DeviceArray<float> activation, DeviceArray<float> dx, int batch) =>
        Multiply(MatMulProblem.BackwardInput(batch, layer.Inputs, layer.Outputs), dy, layer.Weights, dx, activation);

    public void DenseBackwardParameters(DenseParameters gradients, DeviceArray<float> x, DeviceArray<float> dy, int batch) =>
        Multiply(MatMulProblem.BackwardParameters(batch, gradients.Inputs, gradients.Outputs), x, dy, gradients.All, dy);

    public void SoftmaxCrossEntropyForward(DeviceArray<float> logits, DeviceArray<int> labels, int batch, int classes, DeviceArray<float> probabilities, SampleOutputs outputs)
    {
        long issued = Launching("SoftmaxCrossEntropyKernels.Forward");
        softmaxForward(launch.For(batch), View(logits), View(labels), View(probabilities), View(outputs.Losses), View(outputs.Predictions), outputs.Offset, batch, classes);
        Issued(issued);
    }

    public void SoftmaxCrossEntropyForwardBackward(DeviceArray<float> logits, DeviceArray<int> labels, int batch, int classes, DeviceArray<float> logitGradients, SampleOutputs outputs)
    {
        long issued = Launching("SoftmaxCrossEntropyKernels.ForwardBackward");
        softmaxForwardBackward(launch.For(batch), View(logits), View(labels), View(logitGradients), View(outputs.Losses), View(outputs.Predictions), outputs.Offset, batch, classes);
        Issued(issued);
    }

    public void OptimizerUpdate(DeviceArray<float> weights, DeviceArray<float> gradients, OptimizerState state, OptimizerStep update)
    {
        long issued = Launching(OptimizerKernelNames[(int)update.Rule]);
        var config = launch.For(weights.Length);
        var (w, g, n) = (View(weights), View(gradients), weights.Length);
        switch (update.Rule)
        {
            case UpdateRule.RmsProp:
                rmsProp(config, w, g, View(state.Arrays[0]), n, update.StepSize, update.Rho, update.Epsilon);
                break;
            case UpdateRule.Adam:
                adam(config, w, g, View(state.Arrays[0]), View(state.Arrays[1]), n, update.StepSize, update.Beta1, update.Beta2, update.Epsilon);
                break;
            case UpdateRule.Sgd:
                sgd(config, w, g, n, update.StepSize);
                break;
            default:
                sgdMomentum(config, w, g, View(state.Arrays[0]), n, update.StepSize, update.Momentum, update.Nesterov ? 1 : 0);
                break;
        }

        Issued(issued);
    }

    public string MatMulImplementation(MatMulProblem problem) => VariantFor(problem).ToString();

    public void Synchronize() => accelerator.Synchronize();

    public void Dispose()
    {
        accelerator.Dispose();
        context.Dispose();
    }

    private void Multiply(MatMulProblem problem, DeviceArray<float> a, DeviceArray<float> b, DeviceArray<float> c, DeviceArray<float> epilogueOperand)
    {
        MatMulOperands.Require(problem, a.Length, b.Length, c.Length, epilogueOperand.Length);
        var variant = VariantFor(problem);
        long issued = Launching(MatMulKernelNames[(int)variant]);
        matMul[variant](launch.ForMatMul(variant, problem), View(a), View(b), View(c), View(epilogueOperand), problem);
        Issued(issued);
    }

    /// <summary>The kernel about to be launched, for a failure's message; the time issuing it starts.</summary>
    private long Launching(string kernel)
    {
        LastKernelIssued = kernel;
        return Stopwatch.GetTimestamp();
    }

    /// <summary>The last kernel this backend launched or tried to: what a failed operation names.</summary>
    public string? LastKernelIssued { get; private set; }

    private static string KernelName(Delegate kernel) => $"{kernel.Method.DeclaringType!.Name}.{kernel.Method.Name}";

    private static readonly string[] OptimizerKernelNames = Enum.GetNames<UpdateRule>().Select(rule => $"{nameof(OptimizerKernels)}.{rule}").ToArray();

    private static readonly string[] MatMulKernelNames = Enum.GetNames<MatMulVariant>().Select(variant => $"{nameof(MatMulKernels)}.{variant}").ToArray();

    /// <summary>Counts a launch and the host time spent issuing it since <paramref name="since"/>.</summary>
    private void Issued(long since)
    {
        issueTicks += Stopwatch.GetTimestamp() - since;
        launches++;
    }

    private MatMulVariant VariantFor(MatMulProblem problem) => variantOverride ?? launch.VariantFor(problem);

    private void LoadMatMul(MatMulVariant variant)
    {
        if (!matMul.ContainsKey(variant))
            matMul[variant] = accelerator.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, MatMulProblem>(KernelInventory.MatMul(variant));
    }

    /// <summary>The ILGPU view of an array of this backend, for step runners that build kernel arguments.</summary>
    internal static ArrayView<T> View<T>(DeviceArray<T> array)
        where T : unmanaged, INumber<T> =>
        array is IlgpuArray<T> ilgpu
            ? ilgpu.View
            : throw new ArgumentException("the array belongs to another backend", nameof(array));

    private sealed class IlgpuArray<T> : DeviceArray<T>
        where T : unmanaged, INumber<T>
    {
        private readonly MemoryBuffer? owner;
        private Action? released;

        public IlgpuArray(MemoryBuffer? owner, ArrayView<T> view, Action? released)
            : base((int)view.Length)
        {
            this.owner = owner;
            this.released = released;
            View = view;
        }

        public ArrayView<T> View { get; }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                owner?.Dispose();
                released?.Invoke();
                released = null;
            }

            base.Dispose(disposing);
        }
    }
}
