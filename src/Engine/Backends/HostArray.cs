using System.Numerics;

namespace MnistGpu.Engine.Backends;

/// <summary>
/// An array of a backend that computes on the host: elements [Offset, Offset + Length) of a
/// managed array of <typeparamref name="TStorage"/> — the element type itself for the SIMD
/// backend, double for the reference. Slices share the storage; only the array that was
/// allocated releases its bytes when disposed.
/// </summary>
internal sealed class HostArray<T, TStorage>(TStorage[] storage, int offset, int length, Action? released) : DeviceArray<T>(length)
    where T : unmanaged, INumber<T>
{
    private Action? released = released;

    public TStorage[] Storage { get; } = storage;

    public int Offset { get; } = offset;

    public Span<TStorage> Span => Storage.AsSpan(Offset, Length);

    public Memory<TStorage> Memory => new(Storage, Offset, Length);

    /// <exception cref="ArgumentException"><paramref name="array"/> was allocated by another kind of backend.</exception>
    public static HostArray<T, TStorage> Of(DeviceArray<T> array) =>
        array as HostArray<T, TStorage> ?? throw new ArgumentException("the array belongs to another backend", nameof(array));

    public HostArray<T, TStorage> Slice(int offset, int length)
    {
        RequireRange(offset, length);
        return new HostArray<T, TStorage>(Storage, Offset + offset, length, released: null);
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            released?.Invoke();
            released = null;
        }

        base.Dispose(disposing);
    }
}
