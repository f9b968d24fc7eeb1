using System.Globalization;

namespace MnistGpu.Engine.Backends;

/// <summary>Room for new arrays on a device.</summary>
/// <param name="FreeBytes">What the device itself has free.</param>
/// <param name="LimitBytes">The --memory-limit itself; null without one.</param>
/// <param name="LimitLeftBytes">What --memory-limit leaves of its allowance; null without a limit.</param>
/// <param name="SharesHostMemory">Whether the device's arrays are in the host's memory (the host path, ILGPU's CPU accelerator), so that host copies of the parameters take from the same room.</param>
public readonly record struct DeviceMemory(long FreeBytes, long? LimitBytes, long? LimitLeftBytes, bool SharesHostMemory)
{
    public long AvailableBytes => LimitLeftBytes is long left ? Math.Max(0, Math.Min(left, FreeBytes)) : FreeBytes;

    /// <summary>Whether <paramref name="bytes"/> would fit the device but for --memory-limit.</summary>
    public bool LimitRefuses(long bytes) => bytes > AvailableBytes && bytes <= FreeBytes;
}

/// <summary>
/// What a backend has allocated, against an optional <c>--memory-limit</c>: the accounting that
/// every backend which allocates shares, so the limit means the same on every device.
/// </summary>
internal sealed class MemoryBudget(string deviceName, long? limitBytes)
{
    public long AllocatedBytes { get; private set; }

    /// <summary>What may still be allocated, given what the device itself has free.</summary>
    public DeviceMemory Room(long deviceFreeBytes, bool sharesHostMemory) =>
        new(deviceFreeBytes, limitBytes, limitBytes - AllocatedBytes, sharesHostMemory);

    /// <summary>Counts an allocation; fails in one line when it would pass the limit.</summary>
    /// <exception cref="EngineException">The limit does not leave room for <paramref name="bytes"/>.</exception>
    public void Take(long bytes)
    {
        if (limitBytes is long limit && AllocatedBytes + bytes > limit)
            throw OutOfMemory(bytes, $"{limit - AllocatedBytes:N0} of the {limit:N0}-byte limit free");
        AllocatedBytes += bytes;
    }

    public void Release(long bytes) => AllocatedBytes -= bytes;

    public EngineException OutOfMemory(long bytes, string detail, Exception? inner = null)
    {
        string message = $"{deviceName}: out of device memory allocating {bytes:N0} bytes ({detail})";
        return inner is null ? new EngineException(message) : new EngineException(message, inner);
    }
}

/// <summary>The memory this process can still use on the host: the GC's limit (a container's or DOTNET_GCHeapHardLimit) and the system's available memory.</summary>
internal static class HostMemory
{
    public static long AvailableBytes()
    {
        long managedRoom = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes - GC.GetTotalMemory(forceFullCollection: false);
        return SystemAvailableBytes() is long system ? Math.Min(managedRoom, system) : managedRoom;
    }

    /// <summary>Linux's estimate of memory available to new allocations without swapping (MemAvailable), when the platform has one.</summary>
    private static long? SystemAvailableBytes()
    {
        try
        {
            string? line = File.ReadLines("/proc/meminfo").FirstOrDefault(l => l.StartsWith("MemAvailable:", StringComparison.Ordinal));
            string[]? fields = line?.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            return fields is { Length: >= 2 } && long.TryParse(fields[1], NumberStyles.None, CultureInfo.InvariantCulture, out long kilobytes) ? kilobytes * 1024 : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
