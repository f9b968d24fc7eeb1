using System.Numerics;
using System.Reflection;
using MnistGpu.Engine.Backends;

namespace MnistGpu.Engine.Operations;

/// <summary>
/// A check an operation brings for <c>mnistgpu verify</c> and the kernel tests: it runs the
/// operation on a device and on the reference from the same inputs (<see cref="DevicePair"/>) and
/// hands back what to compare, within <see cref="Absolute"/> or <see cref="Relative"/>, and any
/// property the result must have (<see cref="OperationOutcome.Problem"/>).
/// </summary>
/// <param name="Name">The row's name; it begins with the operation's, e.g. "dropout forward 0.5 128x512".</param>
/// <param name="LargestDimension">The largest size it runs (verify's quick subset keeps the small ones).</param>
public sealed record OperationCheck(string Name, int LargestDimension, double Absolute, double Relative, Func<DevicePair, OperationOutcome> Run)
{
    /// <summary>Whether only convolutional networks use it (verify's <c>--network</c> keeps it for those).</summary>
    public bool Convolutional { get; init; }
}

/// <summary>What an <see cref="OperationCheck"/> compares: named arrays, the reference's values against the device's, and a problem, if any, found besides.</summary>
public sealed record OperationOutcome(IReadOnlyList<(string What, double[] Expected, float[] Actual)> Arrays, string? Problem = null);

/// <summary>
/// A network an operation brings for verify's training checks: trained two steps on the device
/// and on the reference, and fused against composed on the device, as every network there is.
/// </summary>
/// <param name="Layers">Its hidden layers as <c>--layers</c> takes them, e.g. "512,dropout:0.5".</param>
public sealed record NetworkCheck(string Layers);

/// <summary>
/// Every check operations bring: static properties of their types (<see cref="Operation"/>'s
/// subclasses) of type <see cref="IReadOnlyList{OperationCheck}"/> or <see cref="IReadOnlyList{NetworkCheck}"/>, found, in name order.
/// </summary>
public static class OperationChecks
{
    public static IReadOnlyList<OperationCheck> All { get; } = Found<OperationCheck>().OrderBy(check => check.Name, StringComparer.Ordinal).ToList();

    public static IReadOnlyList<NetworkCheck> Networks { get; } = Found<NetworkCheck>().OrderBy(check => check.Layers, StringComparer.Ordinal).ToList();

    /// <summary><paramref name="length"/> values drawn uniformly from [<paramref name="low"/>, <paramref name="high"/>): the checks' inputs.</summary>
    public static float[] Uniform(Random random, int length, float low = -1f, float high = 1f)
    {
        var values = new float[length];
        for (int i = 0; i < length; i++)
            values[i] = low + (random.NextSingle() * (high - low));
        return values;
    }

    private static IEnumerable<T> Found<T>() => typeof(Operation).Assembly.GetTypes()
        .Where(type => type.IsSubclassOf(typeof(Operation)))
        .SelectMany(type => type.GetProperties(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static))
        .Where(property => property.PropertyType == typeof(IReadOnlyList<T>))
        .SelectMany(property => (IReadOnlyList<T>)property.GetValue(null)!);
}

/// <summary>
/// A device and the backend it is checked against (the double-precision reference, or another
/// device), with arrays made on both from the same values, kept until <see cref="Release"/>.
/// </summary>
public sealed class DevicePair(ITrainingBackend device, ITrainingBackend reference) : IDisposable
{
    private readonly List<IDisposable> allocated = [];

    public ITrainingBackend Device { get; } = device;

    public ITrainingBackend Reference { get; } = reference;

    /// <summary>An array of <paramref name="values"/> on each.</summary>
    public (DeviceArray<T> Device, DeviceArray<T> Reference) Both<T>(T[] values)
        where T : unmanaged, INumber<T>
    {
        var arrays = Zeros<T>(values.Length);
        Device.Upload<T>(values, arrays.Device);
        Reference.Upload<T>(values, arrays.Reference);
        return arrays;
    }

    /// <summary>A zero-filled array of <paramref name="length"/> on each.</summary>
    public (DeviceArray<T> Device, DeviceArray<T> Reference) Zeros<T>(int length)
        where T : unmanaged, INumber<T>
    {
        var onDevice = Device.Allocate<T>(length);
        var onReference = Reference.Allocate<T>(length);
        allocated.Add(onDevice);
        allocated.Add(onReference);
        return (onDevice, onReference);
    }

    /// <summary>What the reference computed: its exact doubles where it keeps doubles, else the other device's values.</summary>
    public double[] Expected<T>(DeviceArray<T> array)
        where T : unmanaged, INumber<T>
    {
        if (array is HostArray<T, double> precise)
            return precise.Span.ToArray();
        var values = new T[array.Length];
        Reference.Download(array, values);
        return Array.ConvertAll(values, double.CreateChecked);
    }

    /// <summary>What the device computed.</summary>
    public T[] Actual<T>(DeviceArray<T> array)
        where T : unmanaged, INumber<T>
    {
        var values = new T[array.Length];
        Device.Download(array, values);
        return values;
    }

    /// <summary>Frees every array made so far; the pair makes new ones after.</summary>
    public void Release()
    {
        foreach (var array in allocated)
            array.Dispose();
        allocated.Clear();
    }

    public void Dispose() => Release();
}
