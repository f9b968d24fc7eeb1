using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using ILGPU.Runtime.Cuda;
using ILGPU.Runtime.OpenCL;
using MnistGpu.Engine.Backends;

namespace MnistGpu.Engine.Devices;

/// <summary>
/// Every device ILGPU can see, and the one rule for turning a <c>--device</c> value into a backend:
/// <c>auto</c>, <c>cpu</c>, <c>cuda</c>, <c>opencl</c>, <c>cuda:N</c>, <c>opencl:N</c> or a catalogue index.
/// </summary>
public sealed class DeviceCatalog : IDisposable
{
    private readonly Context context;
    private readonly List<(DeviceInfo Info, Device Device)> entries = [];
    private bool contextHandedOver;

    public DeviceCatalog()
    {
        // OpenCL devices ILGPU cannot compile for are enumerated too, so they can be listed with the reason.
        context = Context.Create(builder => builder.CPU(CPUDevice.Default).Cuda().OpenCL(_ => true));
        foreach (var device in context.Devices)
            entries.Add((Describe(entries.Count, device), device));
    }

    public IReadOnlyList<DeviceInfo> Devices => entries.ConvertAll(e => e.Info);

    /// <summary>
    /// Opens <paramref name="spec"/> as a training backend. The catalogue is consumed: the backend
    /// owns the ILGPU context from here on. <paramref name="choice"/> says what was chosen and why.
    /// </summary>
    /// <exception cref="UserInputException">No such device, or it is not usable.</exception>
    public ITrainingBackend Open(string spec, out string choice)
    {
        var (info, device) = Select(spec.Trim().ToLowerInvariant(), out choice);
        contextHandedOver = true;
        return new IlgpuBackend(context, device, $"{info.Id} ({info.Name})");
    }

    public void Dispose()
    {
        if (!contextHandedOver)
            context.Dispose();
    }

    private (DeviceInfo, Device) Select(string spec, out string choice)
    {
        if (spec == "auto")
        {
            var best = entries.Where(e => e.Info.Usable && e.Info.Kind == "cuda")
                .Concat(entries.Where(e => e.Info.Usable && e.Info.Kind == "opencl"))
                .Concat(entries.Where(e => e.Info.Usable && e.Info.Kind == "cpu"))
                .First();
            choice = best.Info.Kind == "cpu"
                ? $"auto: {best.Info.Id} ({best.Info.Name}); no usable CUDA or OpenCL device"
                : $"auto: {best.Info.Id} ({best.Info.Name})";
            return best;
        }

        var matches = entries.Where(e => Matches(e.Info, spec)).ToList();
        if (matches.Count == 0)
            throw new UserInputException($"no device '{spec}'; available: {Available()}");
        var usable = matches.FirstOrDefault(e => e.Info.Usable);
        if (usable.Device is null)
            throw new UserInputException($"device '{spec}' is not usable: {matches[0].Info.Reason}; available: {Available()}");
        choice = $"{usable.Info.Id} ({usable.Info.Name})";
        return usable;
    }

    private static bool Matches(DeviceInfo info, string spec) =>
        spec == info.Kind || spec == info.Id || spec == info.Index.ToString(System.Globalization.CultureInfo.InvariantCulture);

    private string Available() =>
        string.Join(", ", entries.Where(e => e.Info.Usable).Select(e => $"{e.Info.Index}={e.Info.Id} ({e.Info.Name})"));

    private DeviceInfo Describe(int index, Device device)
    {
        string kind = device.AcceleratorType switch
        {
            AcceleratorType.Cuda => "cuda",
            AcceleratorType.OpenCL => "opencl",
            _ => "cpu",
        };
        int kindIndex = entries.Count(e => e.Info.Kind == kind);
        string? reason = device is CLDevice cl ? OpenClUnusableReason(cl) : null;
        return new DeviceInfo(
            index, kind, kindIndex, device.Name.Trim(), device.MemorySize, device.NumMultiprocessors,
            device.WarpSize, device.MaxNumThreadsPerGroup, reason is null, reason);
    }

    /// <summary>ILGPU's own test for an OpenCL device it can compile for.</summary>
    private static string? OpenClUnusableReason(CLDevice device)
    {
        if (device.CLStdVersion < ILGPU.Backends.OpenCL.CLBackend.MinimumVersion)
            return $"OpenCL C {device.CLStdVersion} is older than the {ILGPU.Backends.OpenCL.CLBackend.MinimumVersion} ILGPU needs";
        if (!device.Capabilities.GenericAddressSpace)
            return $"OpenCL {device.DeviceVersion} without generic address space support, which ILGPU needs";
        return null;
    }
}
