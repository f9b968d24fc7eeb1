using MnistGpu.Engine.Backends;
using MnistGpu.Engine.Devices;

namespace MnistGpu.Runner;

internal static class DeviceOpener
{
    /// <summary>Opens the device a --device value names and prints one line saying what was chosen.</summary>
    public static ITrainingBackend Open(string spec, long? memoryLimitBytes, TextWriter output, int? hostThreads = null)
    {
        using var catalog = new DeviceCatalog();
        var backend = catalog.Open(spec, out string choice, memoryLimitBytes, hostThreads);
        output.WriteLine($"Device: {choice}");
        return backend;
    }
}
