using System.Runtime.CompilerServices;

namespace MnistGpu.Engine.Backends;

/// <summary>
/// The arrays a run will allocate on a backend, sized in 64-bit arithmetic and summed before any
/// is allocated. A network that cannot fit is refused in one line that names what it needs and
/// what is available, instead of failing half-allocated — or, with sizes whose product overflows
/// an int, reaching the kernels with wrong lengths.
/// </summary>
public sealed class MemoryPlan
{
    private readonly List<(string Part, long Bytes)> arrays = [];

    public long TotalBytes => arrays.Sum(a => a.Bytes);

    /// <summary>Adds <paramref name="count"/> arrays of <paramref name="elements"/> elements of <typeparamref name="T"/> each.</summary>
    /// <param name="part">What the arrays belong to, as the message sums it up: "the network", "the test set".</param>
    /// <param name="array">What they hold, for the message when one cannot exist: "hidden activations".</param>
    /// <exception cref="UserInputException">One such array would be larger than any array can be.</exception>
    public MemoryPlan Add<T>(string part, string array, long elements, int count = 1)
        where T : unmanaged
    {
        if (elements > Array.MaxLength)
            throw new UserInputException($"{part}: {array} would need an array of {elements:N0} elements; one array holds at most {Array.MaxLength:N0}");
        arrays.Add((part, elements * Unsafe.SizeOf<T>() * count));
        return this;
    }

    /// <exception cref="UserInputException">The plan would fit the device but not the --memory-limit the user gave.</exception>
    /// <exception cref="EngineException">The device has less memory free than the plan needs.</exception>
    public void RequireFits(ITrainingBackend backend)
    {
        var room = backend.Memory;
        if (TotalBytes <= room.AvailableBytes)
            return;
        string needs = string.Join(", ", arrays.GroupBy(a => a.Part).Select(g => $"{g.Key} {g.Sum(a => a.Bytes):N0}"));
        if (room.LimitRefuses(TotalBytes))
            throw new UserInputException($"{backend.DeviceName}: over --memory-limit: this needs {TotalBytes:N0} bytes ({needs}); the limit is {room.LimitBytes:N0} bytes, of which {room.AvailableBytes:N0} are left, and the device has {room.FreeBytes:N0} free");
        throw new EngineException($"{backend.DeviceName}: out of device memory: this needs {TotalBytes:N0} bytes ({needs}), but {room.AvailableBytes:N0} are available");
    }
}
