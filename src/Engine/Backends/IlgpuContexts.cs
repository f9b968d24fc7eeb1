using ILGPU;
using ILGPU.Algorithms;

namespace MnistGpu.Engine.Backends;

/// <summary>How every ILGPU context of the engine is configured: the one place for it.</summary>
internal static class IlgpuContexts
{
    /// <summary>
    /// A context for the devices <paramref name="configure"/> adds, compiling at O2: ILGPU then
    /// infers the address space of every view, so its OpenCL C has no <c>__generic</c> pointer —
    /// at O1 PoCL, which lacks generic address space, rejects every kernel (measured) — and PTX
    /// has fewer generic loads. ILGPU.Algorithms is enabled: without it the PTX backend has no
    /// exp or log, and the softmax kernels do not compile for NVIDIA GPUs (found by assembling
    /// them with ptxas; no GPU had run them before). OpenCL barriers fence local memory
    /// (<see cref="OpenClBarrierFence"/>) in every context, before any kernel is generated.
    /// </summary>
    public static Context Create(Func<Context.Builder, Context.Builder> configure)
    {
        OpenClBarrierFence.Apply();
        return Context.Create(builder => configure(builder).Optimize(OptimizationLevel.O2).EnableAlgorithms());
    }
}
