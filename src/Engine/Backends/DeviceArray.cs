using System.Numerics;

namespace MnistGpu.Engine.Backends;

/// <summary>
/// An array that lives where a backend computes (GPU memory, or host memory for host backends).
/// Only the backend that allocated it can read it; the trainer just passes it around.
/// </summary>
public abstract class DeviceArray<T> : IDisposable
    where T : unmanaged, INumber<T>
{
    protected DeviceArray(int length) => Length = length;

    public int Length { get; }

    /// <summary>Throws unless [offset, offset + length) lies within the array: the check every backend's Slice makes.</summary>
    public void RequireRange(int offset, int length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(length, Length - offset);
    }

    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    protected virtual void Dispose(bool disposing)
    {
    }
}
