using System.Reflection;
using ILGPU;
using ILGPU.Backends.EntryPoints;
using ILGPU.Backends.PTX;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;
using MnistGpu.Kernels;

namespace MnistGpu.Engine.Backends;

/// <summary>One kernel the engine can launch: its name, its method and, for matrix products or fused steps, its variant.</summary>
public sealed record KernelEntry(string Name, MethodInfo Method, MatMulVariant? Variant)
{
    public FusedVariant? Fused { get; init; }
}

/// <summary>One launch of a training step as a device's plan makes it.</summary>
public sealed record PlannedLaunch(string Operation, string Kernel, int Groups, int GroupSize, int SharedMemoryBytes);

/// <summary>
/// Every kernel the engine launches, in one list: what <see cref="IlgpuBackend"/> compiles, what
/// <c>mnistgpu kernels</c> lists with each device's launch plan, and what is compiled to PTX for
/// NVIDIA's assembler — for any CUDA architecture, without a GPU.
/// </summary>
public static class KernelInventory
{
    /// <summary>
    /// PTX ISA 7.8: what CUDA 11.8's ptxas (Debian 12's) accepts, and the newest ILGPU 1.5.3 emits
    /// for sm_80 and below; newer architectures get sm_80 code, which their drivers run.
    /// </summary>
    private static CudaInstructionSet PtxInstructionSet => CudaInstructionSet.ISA_78;

    /// <summary>The PTX ISA version every PTX file is written for, as ptxas names it.</summary>
    public static string PtxVersion => $"{PtxInstructionSet.Major}.{PtxInstructionSet.Minor}";

    public static IReadOnlyList<KernelEntry> All { get; } =
    [
        Entry(nameof(GatherKernels) + "." + nameof(GatherKernels.Batch), typeof(GatherKernels), nameof(GatherKernels.Batch)),
        .. Enum.GetValues<MatMulVariant>().Select(variant =>
            Entry($"{nameof(MatMulKernels)}.{variant}", typeof(MatMulKernels), variant.ToString()) with { Variant = variant }),
        Entry(nameof(SoftmaxCrossEntropyKernels) + "." + nameof(SoftmaxCrossEntropyKernels.Forward), typeof(SoftmaxCrossEntropyKernels), nameof(SoftmaxCrossEntropyKernels.Forward)),
        Entry(nameof(SoftmaxCrossEntropyKernels) + "." + nameof(SoftmaxCrossEntropyKernels.ForwardBackward), typeof(SoftmaxCrossEntropyKernels), nameof(SoftmaxCrossEntropyKernels.ForwardBackward)),
        .. new[] { nameof(OptimizerKernels.RmsProp), nameof(OptimizerKernels.Adam), nameof(OptimizerKernels.Sgd), nameof(OptimizerKernels.SgdMomentum) }
            .Select(name => Entry($"{nameof(OptimizerKernels)}.{name}", typeof(OptimizerKernels), name)),
        Fused(nameof(FusedStepKernels.HiddenForwardTiled), FusedVariant.Tiled),
        Fused(nameof(FusedStepKernels.TailPerGroup), FusedVariant.Tiled, typeof(FusedStepKernels.AlgorithmsGroupSum)),
        Fused(nameof(FusedStepKernels.TailPerGroup), FusedVariant.Tiled, typeof(FusedStepKernels.SharedMemoryGroupSum)),
        Fused(nameof(FusedStepKernels.GradientsUpdateTiled), FusedVariant.Tiled),
        Fused(nameof(FusedStepKernels.HiddenForwardPanel), FusedVariant.Panel),
        Fused(nameof(FusedStepKernels.TailPerRow), FusedVariant.Panel),
        Fused(nameof(FusedStepKernels.GradientsUpdatePanel), FusedVariant.Panel),
    ];

    /// <summary>The matrix-multiply kernel of <paramref name="variant"/>.</summary>
    public static Action<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, MatMulProblem> MatMul(MatMulVariant variant) => variant switch
    {
        MatMulVariant.RegisterTiled => MatMulKernels.RegisterTiled,
        MatMulVariant.SparseRowPanel => MatMulKernels.SparseRowPanel,
        _ => MatMulKernels.SharedMemoryTiled,
    };

    /// <summary>The group size <paramref name="planner"/> launches <paramref name="kernel"/> with.</summary>
    public static int GroupSize(KernelEntry kernel, LaunchPlanner planner) => kernel switch
    {
        { Variant: { } variant } => planner.ForMatMul(variant, MatMulProblem.Forward(128, 784, 512, relu: true)).GroupDim.X,
        { Fused: FusedVariant.Tiled } when kernel.Method.Name == nameof(FusedStepKernels.TailPerGroup) => planner.ForFusedTail(128).GroupDim.X,
        { Fused: FusedVariant.Tiled } => FusedStepKernels.TiledGroupSize,
        _ => planner.For(int.MaxValue).GroupDim.X,
    };

    /// <summary>The static shared memory per group that the engine's own code in <paramref name="kernel"/> allocates (ILGPU.Algorithms may add to it).</summary>
    public static int SharedMemoryBytes(KernelEntry kernel) => kernel switch
    {
        { Variant: { } variant } => SharedMemoryBytes(variant),
        { Fused: FusedVariant.Tiled } when kernel.Method.Name == nameof(FusedStepKernels.TailPerGroup) => FusedStepKernels.MaxClasses * sizeof(float),
        { Fused: FusedVariant.Tiled } => FusedStepKernels.TiledSharedMemoryBytes,
        _ => 0,
    };

    /// <summary>Static shared memory per group of a matrix-multiply variant.</summary>
    public static int SharedMemoryBytes(MatMulVariant variant) => variant == MatMulVariant.SharedMemoryTiled ? MatMulKernels.SharedMemoryBytes : 0;

    /// <summary>The PTX of <paramref name="kernel"/> for compute capability <paramref name="smVersion"/> (80 for sm_80), compiled without any GPU.</summary>
    public static string Ptx(KernelEntry kernel, int smVersion)
    {
        var architecture = new CudaArchitecture(smVersion / 10, smVersion % 10);
        using var context = IlgpuContexts.Create(builder => builder);
        using var backend = new PTXBackend(context, new CudaCapabilityContext(architecture), architecture, PtxInstructionSet, nvvmAPI: null);
        var compiled = (PTXCompiledKernel)backend.Compile(EntryPointDescription.FromExplicitlyGroupedKernel(kernel.Method), KernelSpecialization.Empty);
        return compiled.PTXAssembly;
    }

    /// <summary>
    /// The OpenCL C of <paramref name="kernel"/> as ILGPU generates it for an OpenCL 2.0 device
    /// with every capability off (PoCL's profile), without any device: what tests read for
    /// barriers and argument layouts.
    /// </summary>
    public static string OpenClSource(KernelEntry kernel)
    {
        using var context = IlgpuContexts.Create(builder => builder);
        var constructor = typeof(ILGPU.Runtime.OpenCL.CLCapabilityContext).GetConstructors().Single();
        var capabilities = (ILGPU.Runtime.OpenCL.CLCapabilityContext)constructor.Invoke(constructor.GetParameters().Select(_ => (object)false).ToArray());
        using var backend = new ILGPU.Backends.OpenCL.CLBackend(context, capabilities, ILGPU.Runtime.OpenCL.CLDeviceVendor.Other, ILGPU.Backends.OpenCL.CLCVersion.CL20);
        var compiled = (ILGPU.Backends.OpenCL.CLCompiledKernel)backend.Compile(EntryPointDescription.FromExplicitlyGroupedKernel(kernel.Method), KernelSpecialization.Empty);
        return compiled.Source;
    }

    private static KernelEntry Fused(string method, FusedVariant variant, Type? sum = null)
    {
        var info = typeof(FusedStepKernels).GetMethod(method, BindingFlags.Public | BindingFlags.Static) ?? throw new MissingMethodException(nameof(FusedStepKernels), method);
        string name = $"{nameof(FusedStepKernels)}.{method}";
        if (sum is not null)
        {
            info = info.MakeGenericMethod(sum);
            name += "." + sum.Name;
        }

        return new KernelEntry(name, info, null) { Fused = variant };
    }

    private static KernelEntry Entry(string name, Type type, string method) =>
        new(name, type.GetMethod(method, BindingFlags.Public | BindingFlags.Static) ?? throw new MissingMethodException(type.Name, method), null);
}
