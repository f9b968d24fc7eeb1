using MnistGpu.Engine.Backends;
using MnistGpu.Engine.Devices;

namespace MnistGpu.Runner;

internal static class DeviceOpener
{
    /// <summary>Opens the device a --device value names and says on <paramref name="diagnostics"/> which one was chosen.</summary>
    public static ITrainingBackend Open(string spec, long? memoryLimitBytes, TextWriter diagnostics, int? hostThreads = null, bool gpuPlan = false)
    {
        using var catalog = DeviceCatalog.For(spec);
        var backend = catalog.Open(spec, out string choice, memoryLimitBytes, hostThreads, gpuPlan);
        diagnostics.WriteLine($"Device: {choice}");
        return backend;
    }
}
