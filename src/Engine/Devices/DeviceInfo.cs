namespace MnistGpu.Engine.Devices;

/// <summary>The kinds of device, by how the engine drives them.</summary>
public enum DeviceKind
{
    /// <summary>The engine's own SIMD path on this CPU.</summary>
    Host,

    /// <summary>ILGPU's CPU accelerator, which runs the GPU kernels with OS threads.</summary>
    Cpu,

    /// <summary>An NVIDIA GPU through ILGPU's CUDA backend.</summary>
    Cuda,

    /// <summary>An OpenCL device through ILGPU's OpenCL backend.</summary>
    OpenCl,
}

/// <summary>One device as people see it in <c>mnistgpu devices</c>.</summary>
/// <param name="Index">Position in the catalogue; <c>--device N</c> selects it.</param>
/// <param name="KindIndex">Position among devices of the same kind; <c>--device cuda:N</c> selects it.</param>
/// <param name="IsGpu">Whether it is a GPU (CUDA, or an OpenCL device of GPU type): what <c>auto</c> looks for.</param>
/// <param name="Reason">Why the device cannot be used, when it cannot.</param>
public sealed record DeviceInfo(
    int Index, DeviceKind Kind, int KindIndex, string Name, long MemoryBytes, int ComputeUnits,
    int WarpSize, int MaxGroupSize, bool IsGpu, bool Usable, string? Reason)
{
    /// <summary>How the device was found usable, when that took more than ILGPU's word: "ILGPU reports no generic address space; every kernel built".</summary>
    public string? Note { get; init; }

    /// <summary>The kind as <c>--device</c> spells it: host, cpu, cuda, opencl.</summary>
    public string KindName => NameOf(Kind);

    public string Id => $"{KindName}:{KindIndex}";

    public static string NameOf(DeviceKind kind) => kind.ToString().ToLowerInvariant();
}
