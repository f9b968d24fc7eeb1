using System.Reflection;
using ILGPU;
using ILGPU.Backends.EntryPoints;
using ILGPU.Backends.PTX;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;
using MnistGpu.Kernels;

namespace MnistGpu.Engine.Backends;

/// <summary>
/// One kernel the engine can launch: its name (the one spelling every listing, plan and failure
/// uses), its method and, for matrix products, fused steps and implicit convolutions, its variant or layout.
/// </summary>
public sealed class KernelEntry
{
    private readonly Lazy<int> sharedMemoryBytes;

    public KernelEntry(string name, MethodInfo method)
    {
        Name = name;
        Method = method;
        sharedMemoryBytes = new(() => KernelInventory.CompiledSharedMemoryBytes(method));
    }

    public string Name { get; }

    public MethodInfo Method { get; }

    public MatMulVariant? Variant { get; init; }

    /// <summary>The layout, panels or tiles, of a fused-step or implicit-convolution kernel.</summary>
    public KernelLayout? Layout { get; init; }

    /// <summary>
    /// The shared memory per group its source allocates, by the kernels' own constants (0: none):
    /// what the planner holds a device's limit against. Tests require it to equal what the compiler
    /// reports (<see cref="SharedMemoryBytes"/>), so the two cannot drift apart.
    /// </summary>
    public int DeclaredSharedMemoryBytes { get; init; }

    /// <summary>
    /// Static shared memory per group, ILGPU.Algorithms' included, as ILGPU's compiler reports it
    /// (ptxas reports the same): compiled once, on first use, without a device.
    /// </summary>
    public int SharedMemoryBytes => sharedMemoryBytes.Value;

    public override string ToString() => Name;
}

/// <summary>The three products of a convolution, in the order of <see cref="ImplicitConvolutionKernels"/>' methods.</summary>
public enum ConvolutionProduct
{
    Forward,
    BackwardInput,
    BackwardParameters,
}

/// <summary>One launch of a training step: what it does, the kernel, the grid and the group size (recorded, <see cref="IlgpuBackend.Record"/>).</summary>
public sealed record PlannedLaunch(string Operation, KernelEntry Kernel, int Groups, int GroupSize)
{
    public int SharedMemoryBytes => Kernel.SharedMemoryBytes;
}

/// <summary>
/// Every kernel the engine launches, in one list: what <see cref="IlgpuBackend"/> loads, what
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

    public static KernelEntry Unroll { get; } = Entry(typeof(ConvolutionKernels), nameof(ConvolutionKernels.Unroll));

    public static KernelEntry Fold { get; } = Entry(typeof(ConvolutionKernels), nameof(ConvolutionKernels.Fold));

    public static KernelEntry SumPartials { get; } = Entry(typeof(ConvolutionKernels), nameof(ConvolutionKernels.SumPartials));

    private static readonly KernelEntry[] MatMuls = Enum.GetValues<MatMulVariant>()
        .Select(variant => new KernelEntry($"{nameof(MatMulKernels)}.{variant}", Method(typeof(MatMulKernels), variant.ToString()))
        {
            Variant = variant,
            DeclaredSharedMemoryBytes = variant == MatMulVariant.SharedMemoryTiled ? MatMulKernels.SharedMemoryBytes : 0,
        })
        .ToArray();

    // Each UpdateRule is named after the OptimizerKernels method that applies it.
    private static readonly KernelEntry[] Optimizers = Enum.GetValues<UpdateRule>().Select(rule => Entry(typeof(OptimizerKernels), rule.ToString())).ToArray();

    /// <summary>The tail's logits, one row's, in shared memory.</summary>
    private const int TailLogitBytes = FusedStepKernels.MaxClasses * sizeof(float);

    /// <summary>What ILGPU.Algorithms' group reduction allocates for its partial sums.</summary>
    private const int AlgorithmsGroupSumBytes = 16;

    private static readonly KernelEntry HiddenForwardTiled = Fused(nameof(FusedStepKernels.HiddenForwardTiled), KernelLayout.Tiled, FusedStepKernels.TiledSharedMemoryBytes);
    private static readonly KernelEntry TailAlgorithmsSum = Fused(nameof(FusedStepKernels.TailPerGroup), KernelLayout.Tiled, TailLogitBytes + AlgorithmsGroupSumBytes, typeof(FusedStepKernels.AlgorithmsGroupSum));
    private static readonly KernelEntry TailSharedMemorySum = Fused(nameof(FusedStepKernels.TailPerGroup), KernelLayout.Tiled, TailLogitBytes + (FusedStepKernels.SharedMemoryGroupSum.MaxGroupSize * sizeof(float)), typeof(FusedStepKernels.SharedMemoryGroupSum));
    private static readonly KernelEntry GradientsTiled = Fused(nameof(FusedStepKernels.GradientsUpdateTiled), KernelLayout.Tiled, FusedStepKernels.TiledSharedMemoryBytes);
    private static readonly KernelEntry HiddenForwardPanel = Fused(nameof(FusedStepKernels.HiddenForwardPanel), KernelLayout.Panel);
    private static readonly KernelEntry TailPerRow = Fused(nameof(FusedStepKernels.TailPerRow), KernelLayout.Panel);
    private static readonly KernelEntry GradientsPanel = Fused(nameof(FusedStepKernels.GradientsUpdatePanel), KernelLayout.Panel);

    // Each family below is a table indexed by KernelLayout (Panel, then Tiled).
    private static readonly KernelEntry[] HiddenForwards = [HiddenForwardPanel, HiddenForwardTiled];
    private static readonly KernelEntry[] Gradients = [GradientsPanel, GradientsTiled];

    /// <summary>By layout, then by whether the device is OpenCL: on GPUs the tail's sum goes through ILGPU.Algorithms on CUDA, through shared memory on OpenCL.</summary>
    private static readonly KernelEntry[][] Tails = [[TailPerRow, TailPerRow], [TailAlgorithmsSum, TailSharedMemorySum]];

    /// <summary>By layout, then by <see cref="ConvolutionProduct"/>.</summary>
    private static readonly KernelEntry[] ImplicitConvolutions =
    [
        Implicit(nameof(ImplicitConvolutionKernels.ForwardPanel), KernelLayout.Panel),
        Implicit(nameof(ImplicitConvolutionKernels.BackwardInputPanel), KernelLayout.Panel),
        Implicit(nameof(ImplicitConvolutionKernels.BackwardParametersPanel), KernelLayout.Panel),
        // The tiled products stage the same 32-deep tiles of both operands as the shared-memory matrix product.
        Implicit(nameof(ImplicitConvolutionKernels.ForwardTiled), KernelLayout.Tiled, MatMulKernels.SharedMemoryBytes),
        Implicit(nameof(ImplicitConvolutionKernels.BackwardInputTiled), KernelLayout.Tiled, MatMulKernels.SharedMemoryBytes),
        Implicit(nameof(ImplicitConvolutionKernels.BackwardParametersTiled), KernelLayout.Tiled, MatMulKernels.SharedMemoryBytes),
    ];

    public static IReadOnlyList<KernelEntry> All { get; } =
    [
        .. MatMuls, .. Optimizers, Unroll, Fold, SumPartials,
        HiddenForwardTiled, TailAlgorithmsSum, TailSharedMemorySum, GradientsTiled, HiddenForwardPanel, TailPerRow, GradientsPanel,
        .. ImplicitConvolutions, .. Brought(),
    ];

    public static KernelEntry MatMul(MatMulVariant variant) => MatMuls[(int)variant];

    public static KernelEntry Optimizer(UpdateRule rule) => Optimizers[(int)rule];

    /// <summary>Launch 1 of the fused step in <paramref name="layout"/>.</summary>
    public static KernelEntry FusedHiddenForward(KernelLayout layout) => HiddenForwards[(int)layout];

    /// <summary>
    /// Launch 2: per row on CPU-like devices; on GPUs per group, its sum through ILGPU.Algorithms on
    /// CUDA and through shared memory on OpenCL, whose drivers (PoCL, NVIDIA's) lack the work-group
    /// collectives ILGPU.Algorithms reduces with there.
    /// </summary>
    public static KernelEntry FusedTail(KernelLayout layout, bool openCl) => Tails[(int)layout][openCl ? 1 : 0];

    /// <summary>Launch 3 of the fused step in <paramref name="layout"/>.</summary>
    public static KernelEntry FusedGradients(KernelLayout layout) => Gradients[(int)layout];

    /// <summary>The implicit-GEMM kernel of <paramref name="product"/> in <paramref name="layout"/>.</summary>
    public static KernelEntry ImplicitConvolution(ConvolutionProduct product, KernelLayout layout) =>
        ImplicitConvolutions[((int)layout * Enum.GetValues<ConvolutionProduct>().Length) + (int)product];

    /// <summary>The group size <paramref name="planner"/> launches <paramref name="kernel"/> with.</summary>
    public static int GroupSize(KernelEntry kernel, LaunchPlanner planner) => kernel switch
    {
        { Variant: { } variant } => planner.ForMatMul(variant, MatMulProblem.Forward(128, 784, 512, relu: true)).GroupDim.X,
        { Layout: KernelLayout.Tiled } when kernel.Method.Name == nameof(FusedStepKernels.TailPerGroup) => planner.ForFusedTail(128).GroupDim.X,
        { Layout: KernelLayout.Tiled } => FusedStepKernels.TiledGroupSize,
        _ => planner.For(int.MaxValue).GroupDim.X,
    };

    /// <summary>
    /// The PTX of <paramref name="kernel"/> for compute capability <paramref name="smVersion"/> (80
    /// for sm_80), compiled without any GPU, and the static shared memory per group ILGPU's
    /// compiler says it allocates: the figure ptxas must report.
    /// </summary>
    public static (string Ptx, int SharedMemoryBytes) Ptx(KernelEntry kernel, int smVersion)
    {
        var compiled = CompilePtx(kernel.Method, smVersion);
        return (compiled.PTXAssembly, SharedMemoryOf(compiled));
    }

    /// <summary>What ILGPU's compiler says <paramref name="method"/>'s groups allocate in shared memory, ILGPU.Algorithms' included.</summary>
    internal static int CompiledSharedMemoryBytes(MethodInfo method) => SharedMemoryOf(CompilePtx(method, smVersion: 80));

    private static int SharedMemoryOf(PTXCompiledKernel compiled) =>
        compiled.Info?.SharedAllocations.TotalSize
        ?? throw new InvalidOperationException("ILGPU compiled without kernel information (KernelInformation)");

    private static PTXCompiledKernel CompilePtx(MethodInfo method, int smVersion)
    {
        var architecture = new CudaArchitecture(smVersion / 10, smVersion % 10);
        using var context = IlgpuContexts.Create(builder => builder);
        KernelInformation.Enable(context);
        using var backend = new PTXBackend(context, new CudaCapabilityContext(architecture), architecture, PtxInstructionSet, nvvmAPI: null);
        return (PTXCompiledKernel)backend.Compile(EntryPointDescription.FromExplicitlyGroupedKernel(method), KernelSpecialization.Empty);
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

    /// <summary>The kernels operations bring (<see cref="Operation"/>): every static <see cref="KernelEntry"/> property of their types, found, in name order.</summary>
    private static IEnumerable<KernelEntry> Brought() => typeof(Operation).Assembly.GetTypes()
        .Where(type => type.IsSubclassOf(typeof(Operation)))
        .SelectMany(type => type.GetProperties(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static))
        .Where(property => property.PropertyType == typeof(KernelEntry))
        .Select(property => (KernelEntry)property.GetValue(null)!)
        .OrderBy(entry => entry.Name, StringComparer.Ordinal);

    /// <summary>An operation's kernel: <paramref name="method"/> of <paramref name="type"/>, a static class of kernels, named as every entry is.</summary>
    internal static KernelEntry OperationKernel(Type type, string method) => Entry(type, method);

    private static KernelEntry Fused(string method, KernelLayout layout, int sharedMemoryBytes = 0, Type? sum = null)
    {
        var info = Method(typeof(FusedStepKernels), method);
        string name = $"{nameof(FusedStepKernels)}.{method}";
        if (sum is not null)
        {
            info = info.MakeGenericMethod(sum);
            name += "." + sum.Name;
        }

        return new KernelEntry(name, info) { Layout = layout, DeclaredSharedMemoryBytes = sharedMemoryBytes };
    }

    private static KernelEntry Implicit(string method, KernelLayout layout, int sharedMemoryBytes = 0) =>
        new($"{nameof(ImplicitConvolutionKernels)}.{method}", Method(typeof(ImplicitConvolutionKernels), method)) { Layout = layout, DeclaredSharedMemoryBytes = sharedMemoryBytes };

    private static KernelEntry Entry(Type type, string method) => new($"{type.Name}.{method}", Method(type, method));

    private static MethodInfo Method(Type type, string method) =>
        type.GetMethod(method, BindingFlags.Public | BindingFlags.Static) ?? throw new MissingMethodException(type.Name, method);
}
