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
public sealed partial class IlgpuBackend : ITrainingBackend
{
    private readonly Context context;
    private readonly Accelerator accelerator;
    private readonly LaunchPlanner launch;
    private readonly MemoryBudget memory;
    private MatMulVariant? variantOverride;

    private readonly bool recordOnly;
    private readonly Dictionary<MatMulVariant, Kernel<MatMulArguments>> matMul = [];
    private readonly Kernel<OptimizerArguments>[] optimizers;
    private readonly Kernel<PatchArguments> unroll, fold;
    private readonly Kernel<PartialSumArguments> sumPartials;
    private readonly Kernel<ConvolutionForwardArguments> implicitForward;
    private readonly Kernel<ConvolutionBackwardInputArguments> implicitBackwardInput;
    private readonly Kernel<ConvolutionBackwardParametersArguments> implicitBackwardParameters;
    private readonly Kernel<FusedStep> fusedHiddenForward, fusedGradients;
    private readonly Kernel<TailArguments> fusedTail;
    private readonly Dictionary<KernelEntry, object> operationKernels = [];
    private long launches;
    private long issueTicks;
    private List<PlannedLaunch>? recording;

    /// <summary>
    /// Creates an accelerator on <paramref name="device"/> and loads the kernels; the backend
    /// owns <paramref name="context"/> from here on. <paramref name="memoryLimitBytes"/> caps what
    /// this backend may allocate, below what the device has. <paramref name="profile"/> plans
    /// launches for another device's limits than this accelerator's (tests of GPU launch shapes).
    /// </summary>
    /// <param name="layout">Which layout of the fused step's kernels to use instead of the planned one (tests of both layouts on one device).</param>
    /// <param name="planAsGpu">Plans every launch as for a GPU (shared-memory tiles, group reductions) even on a device whose threads are CPU cores: to check the GPU kernels under a simulator.</param>
    /// <param name="recordOnly">Loads no kernel: every launch is recorded (<see cref="Record"/>), never run. What lists a step's launches for a device profile without the device.</param>
    public IlgpuBackend(Context context, Device device, string deviceName, long? memoryLimitBytes = null, DeviceProfile? profile = null, KernelLayout? layout = null, bool planAsGpu = false, bool recordOnly = false)
    {
        this.context = context;
        accelerator = device.CreateAccelerator(context);
        var own = DeviceProfile.Of(accelerator);
        launch = new LaunchPlanner(profile ?? (planAsGpu ? own with { RunsOnCpu = false } : own), layout);
        DeviceName = deviceName;
        memory = new MemoryBudget(deviceName, memoryLimitBytes);

        this.recordOnly = recordOnly;
        optimizers = Enum.GetValues<UpdateRule>().Select(rule => Load<OptimizerArguments>(KernelInventory.Optimizer(rule))).ToArray();
        unroll = Load<PatchArguments>(KernelInventory.Unroll);
        fold = Load<PatchArguments>(KernelInventory.Fold);
        sumPartials = Load<PartialSumArguments>(KernelInventory.SumPartials);
        implicitForward = Load<ConvolutionForwardArguments>(KernelInventory.ImplicitConvolution(ConvolutionProduct.Forward, launch.ConvolutionLayout));
        implicitBackwardInput = Load<ConvolutionBackwardInputArguments>(KernelInventory.ImplicitConvolution(ConvolutionProduct.BackwardInput, launch.ConvolutionLayout));
        implicitBackwardParameters = Load<ConvolutionBackwardParametersArguments>(KernelInventory.ImplicitConvolution(ConvolutionProduct.BackwardParameters, launch.ConvolutionLayout));
        foreach (var variant in launch.Variants)
            LoadMatMul(variant);
        var fused = launch.FusedLayout;
        fusedHiddenForward = Load<FusedStep>(KernelInventory.FusedHiddenForward(fused));
        fusedGradients = Load<FusedStep>(KernelInventory.FusedGradients(fused));
        var tail = KernelInventory.FusedTail(fused, openCl: launch.Profile.IsOpenCl || accelerator is CLAccelerator);
        var tailKernel = recordOnly ? null : accelerator.LoadStreamKernel(tail.Method.CreateDelegate<Action<FusedStep, int>>());
        fusedTail = new(tail, tailKernel is null ? null : (config, a) => tailKernel(config, a.Step, a.Backward));
    }

    public string DeviceName { get; }

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

    /// <summary>
    /// A backend that only records what launches a device of <paramref name="profile"/> would
    /// make (<see cref="Record"/>), with no such device: ILGPU's CPU accelerator holds the arrays,
    /// and no kernel is compiled.
    /// </summary>
    public static IlgpuBackend Recorder(DeviceProfile profile, string deviceName)
    {
        var context = IlgpuContexts.Create(builder => builder.CPU(CPUDevice.Default));
        return new IlgpuBackend(context, context.GetCPUDevice(0), deviceName, profile: profile, recordOnly: true);
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
    internal void FusedHiddenForward(FusedStep step) =>
        Launch(fusedHiddenForward, launch.ForFusedHiddenForward(step.Batch, step.HiddenUnits), step, new LaunchLabel("hidden layer, x gathered from the images"));

    /// <summary>Launch 2: the output layer and softmax-cross-entropy; with <paramref name="backward"/>, dz and the last hidden layer's gradient too.</summary>
    internal void FusedTail(FusedStep step, bool backward) =>
        Launch(fusedTail, launch.ForFusedTail(step.Batch), new TailArguments(step, backward ? 1 : 0), new LaunchLabel(backward ? "output layer, softmax-cross-entropy, dz and dh" : "output layer, softmax-cross-entropy"));

    /// <summary>Launch 3: every dense layer's (inputs, outputs) parameter gradients and the optimizer's update.</summary>
    internal void FusedGradients(FusedStep step, IReadOnlyList<(int Inputs, int Outputs)> layers) =>
        Launch(fusedGradients, launch.ForFusedGradients(layers), step, new LaunchLabel(FusedGradientOperations[(int)step.Optimizer.Rule]));

    public void DenseForward(DenseParameters layer, DeviceArray<float> x, DeviceArray<float> y, int batch, bool relu) =>
        Multiply(MatMulProblem.Forward(batch, layer.Inputs, layer.Outputs, relu), x, layer.Weights, y, layer.Bias, new LaunchLabel("dense forward", layer.Inputs, layer.Outputs));

    public void DenseBackwardInput(DenseParameters layer, DeviceArray<float> dy, DeviceArray<float> activation, DeviceArray<float> dx, int batch, bool relu) =>
        Multiply(MatMulProblem.BackwardInput(batch, layer.Inputs, layer.Outputs, relu), dy, layer.Weights, dx, activation, new LaunchLabel("dense backward input", layer.Outputs, layer.Inputs));

    public void DenseBackwardParameters(DenseParameters gradients, DeviceArray<float> x, DeviceArray<float> dy, int batch) =>
        Multiply(MatMulProblem.BackwardParameters(batch, gradients.Inputs, gradients.Outputs), x, dy, gradients.All, dy, new LaunchLabel("dense backward parameters", gradients.Inputs, gradients.Outputs));

    /// <summary>
    /// For a step runner: a dense layer's parameter gradient, and in the product's epilogue, where
    /// one work item or group sums each gradient whole, the optimizer's update of its parameters
    /// (<see cref="EpilogueUpdate"/>); the layer's input gradient must have read the weights already.
    /// </summary>
    internal void DenseBackwardParametersUpdating(DenseParameters gradients, DeviceArray<float> x, DeviceArray<float> dy, int batch, ParameterUpdate update) =>
        Multiply(MatMulProblem.BackwardParameters(batch, gradients.Inputs, gradients.Outputs, update: true), x, dy, gradients.All, dy, new LaunchLabel(DenseUpdatingOperations[(int)update.Step.Rule], gradients.Inputs, gradients.Outputs), update);

    /// <exception cref="ArgumentException">The update's views are shorter than the <paramref name="parameters"/> a product's epilogue updates.</exception>
    private static void RequireLength(ParameterUpdate update, long parameters)
    {
        if (update.Weights.Length < parameters || update.State1.Length < parameters || update.State2.Length < parameters)
            throw new ArgumentException($"an epilogue update of {parameters} parameters got views of {update.Weights.Length}, {update.State1.Length} and {update.State2.Length}", nameof(update));
    }

    /// <summary>
    /// Runs <paramref name="issue"/> with every launch recorded instead of run, and returns them
    /// in order: the one description of what a step launches, for <c>mnistgpu kernels</c>, bench
    /// and tests. Nothing runs and nothing is counted meanwhile.
    /// </summary>
    internal IReadOnlyList<PlannedLaunch> Record(Action issue)
    {
        var log = new List<PlannedLaunch>();
        recording = log;
        try
        {
            issue();
        }
        finally
        {
            recording = null;
        }

        return log;
    }

    public string MatMulImplementation(MatMulProblem problem) => VariantFor(problem).ToString();

    public void Synchronize() => accelerator.Synchronize();

    public void Dispose()
    {
        accelerator.Dispose();
        context.Dispose();
    }

    /// <param name="update">The optimizer's update an <see cref="Epilogue.OptimizerUpdate"/> applies; otherwise unread (null).</param>
    private void Multiply(MatMulProblem problem, DeviceArray<float> a, DeviceArray<float> b, DeviceArray<float> c, DeviceArray<float> epilogueOperand, LaunchLabel operation, ParameterUpdate? update = null)
    {
        MatMulOperands.Require(problem, a.Length, b.Length, c.Length, epilogueOperand.Length);
        if ((problem.Epilogue == Epilogue.OptimizerUpdate) != update.HasValue)
            throw new ArgumentException("an optimizer update goes with an OptimizerUpdate epilogue, and only there", nameof(update));
        if (update is { } epilogue)
            RequireLength(epilogue, (long)problem.M * problem.N);
        var variant = VariantFor(problem);
        var product = View(c);
        var arguments = new MatMulArguments(View(a), View(b), product, View(epilogueOperand), problem, update ?? new ParameterUpdate { Weights = product, State1 = product, State2 = product });
        Launch(matMul[variant], launch.ForMatMul(variant, problem), arguments, operation);
    }

    /// <summary>
    /// Every launch goes through here: named for a failure's message, then recorded
    /// (<see cref="Record"/>) or issued, counted and its host time added. Allocates nothing.
    /// </summary>
    private void Launch<T>(Kernel<T> kernel, KernelConfig config, T arguments, LaunchLabel operation)
        where T : struct
    {
        LastKernelIssued = kernel.Entry.Name;
        if (recording is not null)
        {
            recording.Add(new PlannedLaunch(operation.ToString(), kernel.Entry, config.GridDim.X, config.GroupDim.X));
            return;
        }

        var run = kernel.Run ?? throw new InvalidOperationException($"{DeviceName} only records launches; {kernel.Entry.Name} is not loaded");
        long start = Stopwatch.GetTimestamp();
        run(config, arguments);
        issueTicks += Stopwatch.GetTimestamp() - start;
        launches++;
    }

    public void Run(Operation operation) => operation.RunIlgpu(this);

    /// <summary>
    /// Launches <paramref name="entry"/>, a kernel an <see cref="Operation"/> brings, over
    /// <paramref name="work"/> items as every element-wise kernel is planned; loaded on its first launch.
    /// </summary>
    internal void Launch<T>(KernelEntry entry, int work, T arguments, string operation)
        where T : struct
    {
        if (!operationKernels.TryGetValue(entry, out var kernel))
            operationKernels[entry] = kernel = Load<T>(entry);
        Launch((Kernel<T>)kernel, launch.For(work), arguments, new LaunchLabel(operation));
    }

    /// <summary>The last kernel this backend launched or tried to: what a failed operation names.</summary>
    public string? LastKernelIssued { get; private set; }

    private MatMulVariant VariantFor(MatMulProblem problem) => variantOverride ?? launch.VariantFor(problem);

    private void LoadMatMul(MatMulVariant variant)
    {
        if (matMul.ContainsKey(variant))
            return;
        var entry = KernelInventory.MatMul(variant);
        var kernel = recordOnly ? null
            : accelerator.LoadStreamKernel(entry.Method.CreateDelegate<Action<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, MatMulProblem, ParameterUpdate>>());
        matMul[variant] = new(entry, kernel is null ? null : (config, a) => kernel(config, a.A, a.B, a.C, a.EpilogueOperand, a.Problem, a.Update));
    }

    /// <summary><paramref name="entry"/>'s kernel, which takes one argument struct, loaded on this accelerator (not when only recording).</summary>
    private Kernel<T> Load<T>(KernelEntry entry)
        where T : struct =>
        new(entry, recordOnly ? null : accelerator.LoadStreamKernel(entry.Method.CreateDelegate<Action<T>>()));

    /// <summary>The ILGPU view of an array of this backend, for step runners that build kernel arguments.</summary>
    internal static ArrayView<T> View<T>(DeviceArray<T> array)
        where T : unmanaged, INumber<T> =>
        array is IlgpuArray<T> ilgpu
            ? ilgpu.View
            : throw new ArgumentException("the array belongs to another backend", nameof(array));

    /// <summary>An inventory kernel and, unless only recording, its launch on this accelerator.</summary>
    private sealed record Kernel<T>(KernelEntry Entry, Action<KernelConfig, T>? Run)
        where T : struct;

    /// <summary>A matrix product's six arguments, passed on as the kernel takes them.</summary>
    private readonly record struct MatMulArguments(ArrayView<float> A, ArrayView<float> B, ArrayView<float> C, ArrayView<float> EpilogueOperand, MatMulProblem Problem, ParameterUpdate Update);

    /// <summary>The fused tail's two arguments, passed on as the kernel takes them.</summary>
    private readonly record struct TailArguments(FusedStep Step, int Backward);

    /// <summary>What a launch does, as a recorded step lists it; formatted only when recording, so a launch allocates nothing.</summary>
    private readonly record struct LaunchLabel(string What, int From = 0, int To = 0)
    {
        public override string ToString() => From > 0 ? $"{What} {From}->{To}" : What;
    }

    /// <summary>Each rule's optimizer as the command line names it (SGD with or without momentum is "sgd").</summary>
    private static readonly string[] OptimizerNames = Enum.GetValues<UpdateRule>().Select(rule => rule == UpdateRule.SgdMomentum ? "sgd" : rule.ToString().ToLowerInvariant()).ToArray();

    /// <summary>The update that adds a kernel gradient's chunks first, named once: nothing is built per step.</summary>
    private static readonly string[] SummingOptimizerNames = OptimizerNames.Select(name => $"{name}, conv kernel gradient's chunks summed first").ToArray();

    private static readonly string[] FusedGradientOperations = OptimizerNames.Select(name => $"every parameter's gradient and {name}").ToArray();

    private static readonly string[] DenseUpdatingOperations = OptimizerNames.Select(name => $"dense backward parameters + {name}").ToArray();

    private static readonly string[] ConvolutionUpdatingOperations = OptimizerNames.Select(name => $"conv backward parameters + {name}").ToArray();

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
