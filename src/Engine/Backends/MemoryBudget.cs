using System.Globalization;

namespace MnistGpu.Engine.Backends;

/// <summary>
/// What a backend has allocated, against an optional <c>--memory-limit</c>: the accounting that
/// every backend which allocates shares, so the limit means the same on every device.
/// </summary>
internal sealed class MemoryBudget(string deviceName, long? limitBytes)
{
    public long AllocatedBytes { get; private set; }

    /// <summary>What may still be allocated, given what the device itself has free.</summary>
    public long Available(long deviceFreeBytes) =>
        limitBytes is long limit ? Math.Min(limit - AllocatedBytes, deviceFreeBytes) : deviceFreeBytes;

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
