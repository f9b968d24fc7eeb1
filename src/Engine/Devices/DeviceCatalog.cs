using System.Globalization;
using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using ILGPU.Runtime.Cuda;
using ILGPU.Runtime.OpenCL;
using MnistGpu.Engine.Backends;
using MnistGpu.Engine.Backends.Host;

namespace MnistGpu.Engine.Devices;

/// <summary>
/// Every device ILGPU can see — usable or not, with the reason — and the one rule for turning a
/// <c>--device</c> value into a backend: <c>auto</c>, <c>cpu</c>, <c>cuda</c>, <c>opencl</c>,
/// <c>cuda:N</c>, <c>opencl:N</c> or a catalogue index. Each API is probed in its own ILGPU
/// context, so a missing or broken driver becomes a note instead of an exception.
/// </summary>
public sealed class DeviceCatalog : IDisposable
{
    private readonly List<Context> contexts = [];
    private readonly List<Entry> entries = [];
    private readonly List<string> notes = [];

    public DeviceCatalog()
    {
        NativeDrivers.Register();
        Probe(DeviceKind.Cuda, builder => builder.Cuda());
        // Devices ILGPU cannot compile for are enumerated too, so they are listed with the reason.
        Probe(DeviceKind.OpenCl, builder => builder.OpenCL(_ => true));
        AddHost();
        Probe(DeviceKind.Cpu, builder => builder.CPU(CPUDevice.Default));
    }

    public IReadOnlyList<DeviceInfo> Devices => entries.ConvertAll(e => e.Info);

    /// <summary>Why an API contributed no usable device, e.g. "cuda: no CUDA driver: libcuda.so.1 not found".</summary>
    public IReadOnlyList<string> Notes => notes;

    /// <summary>
    /// Opens <paramref name="spec"/> as a training backend, which owns its ILGPU context from then
    /// on; the catalogue can still be disposed. <paramref name="choice"/> says what was chosen and,
    /// for <c>auto</c>, why the better kinds were passed over.
    /// </summary>
    /// <exception cref="UserInputException">No such device, or it is not usable.</exception>
    /// <param name="hostThreads">Threads for the host backend (default: one per core).</param>
    public ITrainingBackend Open(string spec, out string choice, long? memoryLimitBytes = null, int? hostThreads = null)
    {
        var entry = Select(spec.Trim().ToLowerInvariant(), out choice);
        if (entry.Device is null || entry.Context is null)
            return new HostBackend(hostThreads, memoryLimitBytes);
        contexts.Remove(entry.Context);
        return new IlgpuBackend(entry.Context, entry.Device, $"{entry.Info.Id} ({entry.Info.Name})", memoryLimitBytes);
    }

    public void Dispose()
    {
        foreach (var context in contexts)
            context.Dispose();
        contexts.Clear();
    }

    private Entry Select(string spec, out string choice)
    {
        if (spec == "auto")
            return SelectAutomatically(out choice);

        var matches = entries.Where(e => Matches(e.Info, spec)).ToList();
        if (matches.Count == 0)
        {
            string kind = spec.Split(':')[0];
            var kindNotes = notes.Where(n => n.StartsWith(kind + ":", StringComparison.Ordinal)).ToList();
            string why = kindNotes.Count > 0 ? $" ({string.Join("; ", kindNotes)})" : "";
            throw new UserInputException($"no device '{spec}'{why}; available: {Available()}");
        }

        var usable = matches.Find(e => e.Info.Usable);
        if (usable is null)
            throw new UserInputException($"device '{spec}' ({matches[0].Info.Name}) is not usable: {matches[0].Info.Reason}; available: {Available()}");
        choice = Describe(usable);
        return usable;
    }

    /// <summary>A usable CUDA GPU, else a usable OpenCL GPU (discrete before integrated), else the host's own SIMD path.</summary>
    private Entry SelectAutomatically(out string choice)
    {
        var cuda = entries.Find(e => e.Info.Usable && e.Info.Kind == DeviceKind.Cuda);
        var openCl = entries
            .Where(e => e.Info.Usable && e.Info.Kind == DeviceKind.OpenCl && e.IsGpu)
            .OrderBy(e => e.IsIntegrated)
            .FirstOrDefault();
        var best = cuda ?? openCl ?? entries.Find(e => e.Info.Kind == DeviceKind.Host)!;
        var passedOver = new List<string>();
        if (cuda is null)
            passedOver.Add(WhyNone(DeviceKind.Cuda));
        if (cuda is null && openCl is null)
            passedOver.Add(WhyNone(DeviceKind.OpenCl));
        choice = passedOver.Count == 0
            ? $"auto: {Describe(best)}"
            : $"auto: {Describe(best)}; {string.Join("; ", passedOver)}";
        return best;
    }

    private string WhyNone(DeviceKind kind)
    {
        var unusable = entries.Where(e => e.Info.Kind == kind).ToList();
        if (unusable.Count > 0)
            return string.Join("; ", unusable.Select(e => $"{e.Info.Id} ({e.Info.Name}) {(e.Info.Usable ? "is not a GPU" : "unusable: " + e.Info.Reason)}"));
        string name = DeviceInfo.NameOf(kind);
        return notes.FirstOrDefault(n => n.StartsWith(name, StringComparison.Ordinal)) ?? $"{name}: no device";
    }

    private static string Describe(Entry entry) => $"{entry.Info.Id} ({entry.Info.Name})";

    private static bool Matches(DeviceInfo info, string spec) =>
        spec == info.KindName || spec == info.Id || spec == info.Index.ToString(CultureInfo.InvariantCulture);

    private string Available() =>
        string.Join(", ", entries.Where(e => e.Info.Usable).Select(e => $"{e.Info.Index}={Describe(e)}"));

    /// <summary>The engine's own CPU path: always there, always usable.</summary>
    private void AddHost()
    {
        var info = new DeviceInfo(
            entries.Count, DeviceKind.Host, 0, $"host CPU, {HostBackend.SimdName}, {Environment.ProcessorCount} threads", GC.GetGCMemoryInfo().TotalAvailableMemoryBytes,
            Environment.ProcessorCount, 1, Environment.ProcessorCount, Usable: true, Reason: null);
        entries.Add(new Entry(info, Device: null, Context: null, IsGpu: false, IsIntegrated: false));
    }

    private void Probe(DeviceKind kind, Func<Context.Builder, Context.Builder> configure)
    {
        string name = DeviceInfo.NameOf(kind);
        string? driverProblem = kind switch
        {
            DeviceKind.Cuda => NativeDrivers.Problem("cuda"),
            DeviceKind.OpenCl => NativeDrivers.Problem("OpenCL"),
            _ => null,
        };
        if (driverProblem is not null)
        {
            notes.Add($"{name}: no {(kind == DeviceKind.Cuda ? "CUDA driver" : "OpenCL runtime")}: {driverProblem}");
            return;
        }

        Context context;
        try
        {
            context = Context.Create(builder => configure(builder));
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            notes.Add($"{name}: the driver failed while listing devices: {e.Message.ReplaceLineEndings(" ")}");
            return;
        }

        var found = context.Devices.Where(d => d.AcceleratorType != AcceleratorType.CPU || kind == DeviceKind.Cpu).ToList();
        if (found.Count == 0)
        {
            notes.Add($"{name}: driver loaded, but it reports no device");
            context.Dispose();
            return;
        }

        contexts.Add(context);
        for (int i = 0; i < found.Count; i++)
            entries.Add(Describe(entries.Count, kind, i, found[i], context));
    }

    private static Entry Describe(int index, DeviceKind kind, int kindIndex, Device device, Context context)
    {
        string? reason = null;
        bool isGpu = kind == DeviceKind.Cuda;
        bool isIntegrated = false;
        string name = device.Name.Trim();
        if (device is CLDevice cl)
        {
            reason = OpenClUnusableReason(cl);
            isGpu = cl.DeviceType.HasFlag(CLDeviceType.CL_DEVICE_TYPE_GPU);
            isIntegrated = isGpu && OpenClDeviceInfo.IsIntegrated(cl.DeviceId);
            string type = isGpu ? (isIntegrated ? "integrated GPU" : "GPU") : cl.DeviceType.HasFlag(CLDeviceType.CL_DEVICE_TYPE_CPU) ? "CPU" : "accelerator";
            name = $"{name}, {cl.PlatformName.Trim()} {type}";
        }
        else if (device is CPUDevice)
        {
            name = $"ILGPU CPU accelerator, {device.MaxNumThreadsPerGroup} threads per group";
        }
        else if (device is CudaDevice cuda)
        {
            name = $"{name}, driver {cuda.DriverVersion}";
        }

        // The CPU accelerator reports long.MaxValue; what it can really use is the host's memory.
        long memory = device is CPUDevice ? GC.GetGCMemoryInfo().TotalAvailableMemoryBytes : device.MemorySize;
        var info = new DeviceInfo(
            index, kind, kindIndex, name, memory, device.NumMultiprocessors,
            device.WarpSize, device.MaxNumThreadsPerGroup, reason is null, reason);
        return new Entry(info, device, context, isGpu, isIntegrated);
    }

    /// <summary>ILGPU's own test for an OpenCL device it can compile for, with the reason.</summary>
    private static string? OpenClUnusableReason(CLDevice device)
    {
        var minimum = ILGPU.Backends.OpenCL.CLBackend.MinimumVersion;
        if (device.CLStdVersion < minimum)
            return $"OpenCL C {device.CLStdVersion} is older than the {minimum} that ILGPU needs";
        if (!device.Capabilities.GenericAddressSpace)
            return $"OpenCL {device.DeviceVersion} without generic address space support, which ILGPU needs";
        return null;
    }

    /// <summary>A device; the host backend has no ILGPU device or context.</summary>
    private sealed record Entry(DeviceInfo Info, Device? Device, Context? Context, bool IsGpu, bool IsIntegrated);
}
