namespace MnistGpu.Engine.Devices;

/// <summary>One device as people see it in <c>mnistgpu devices</c>.</summary>
/// <param name="Index">Position in the catalogue; <c>--device N</c> selects it.</param>
/// <param name="Kind">host (the engine's own SIMD path), cpu (ILGPU's CPU accelerator), cuda or opencl.</param>
/// <param name="KindIndex">Position among devices of the same kind; <c>--device cuda:N</c> selects it.</param>
/// <param name="Reason">Why the device cannot be used, when it cannot.</param>
public sealed record DeviceInfo(
    int Index, string Kind, int KindIndex, string Name, long MemoryBytes, int ComputeUnits,
    int WarpSize, int MaxGroupSize, bool Usable, string? Reason)
{
    public string Id => $"{Kind}:{KindIndex}";
}
