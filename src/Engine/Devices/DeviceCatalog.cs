using System.Diagnostics;
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
/// <c>--device</c> value into a backend: <c>auto</c>, <c>host</c>, <c>cpu</c>, <c>cuda</c>,
/// <c>opencl</c>, <c>cuda:N</c>, <c>opencl:N</c> or a catalogue index. Each API is probed in its
/// own ILGPU context, so a missing or broken driver becomes a note instead of an exception.
/// Usable means "builds": an OpenCL device that ILGPU refuses only for want of generic address
/// space (<see cref="GenericAddressSpaceOverride"/>) or for an OpenCL C older than 2.0
/// (<see cref="CVersionOverride"/>, Oclgrind) is usable when every kernel builds on it, which is
/// found out only when it is listed or asked for, so no other command pays for it. A device can
/// also be named by a part of its name (<c>opencl:rusticl</c>), since indices follow the order in
/// which the OpenCL loader lists its drivers.
/// </summary>
public sealed class DeviceCatalog : IDisposable
{
    private const string OverrideNote = "ILGPU reports no generic address space; every kernel built";

    private const string CVersionNote = "OpenCL C taken as 2.0; every kernel built; a checking device, never chosen by auto";

    /// <summary>Devices that simulate a GPU to check kernels, never chosen by auto whatever type they report.</summary>
    private static readonly string[] Simulators = ["Oclgrind"];

    private readonly List<Context> contexts = [];
    private readonly List<Entry> entries = [];
    private readonly List<string> notes = [];

    /// <summary>Only one API was probed (<see cref="For"/>): an error lists the devices of all of them.</summary>
    private readonly bool partial;

    /// <summary>Every device of every API.</summary>
    public DeviceCatalog()
        : this(only: null)
    {
    }

    private DeviceCatalog(DeviceKind? only)
    {
        partial = only is not null;
        NativeDrivers.Register();
        if (only is null or DeviceKind.Cuda)
            Probe(DeviceKind.Cuda, builder => builder.Cuda());
        // Devices ILGPU cannot compile for are enumerated too, so they are listed with the reason.
        if (only is null or DeviceKind.OpenCl)
            Probe(DeviceKind.OpenCl, builder => builder.OpenCL(_ => true));
        if (only is null or DeviceKind.Host)
            AddHost();
        if (only is null or DeviceKind.Cpu)
            Probe(DeviceKind.Cpu, builder => builder.CPU(CPUDevice.Default));
    }

    /// <summary>
    /// The catalogue for opening <paramref name="spec"/>: only the API it names is probed, so
    /// <c>host</c> loads no GPU or OpenCL driver (each OpenCL runtime brings its own LLVM: ~75 MB
    /// of resident memory with PoCL and rusticl installed); <c>auto</c> and indexes probe them all.
    /// </summary>
    public static DeviceCatalog For(string spec)
    {
        string kind = spec.Trim().ToLowerInvariant().Split(':')[0];
        var named = Enum.GetValues<DeviceKind>().Where(k => DeviceInfo.NameOf(k) == kind).ToList();
        return new DeviceCatalog(named.Count == 1 ? named[0] : null);
    }

    /// <summary>
    /// Every device, each known usable or not: OpenCL devices that need the override have every
    /// kernel built here, which takes seconds on PoCL.
    /// </summary>
    public IReadOnlyList<DeviceInfo> Devices
    {
        get
        {
            foreach (var entry in entries.Where(e => e.Unchecked))
                CheckByBuilding(entry);
            return entries.ConvertAll(e => e.Info);
        }
    }

    /// <summary>Why an API contributed no usable device, e.g. "cuda: no CUDA driver: libcuda.so.1 not found".</summary>
    public IReadOnlyList<string> Notes => notes;

    /// <summary>
    /// Opens <paramref name="spec"/> as a training backend, which owns its ILGPU context from then
    /// on; the catalogue can still be disposed. <paramref name="choice"/> says what was chosen and,
    /// for <c>auto</c> (a CUDA GPU, else an OpenCL GPU, else the host), why the better kinds were
    /// passed over. An OpenCL device that is not a GPU (PoCL) is opened only when asked for.
    /// </summary>
    /// <exception cref="UserInputException">No such device, or it is not usable.</exception>
    /// <param name="hostThreads">Threads for the host backend (default: one per core).</param>
    /// <param name="gpuPlan">Plans launches as for a GPU (shared-memory tiles, group reductions) whatever the device is: to check the GPU kernels on a simulator or a CPU runtime.</param>
    public ITrainingBackend Open(string spec, out string choice, long? memoryLimitBytes = null, int? hostThreads = null, bool gpuPlan = false)
    {
        spec = spec.Trim().ToLowerInvariant();
        if (spec == "auto")
            return OpenAutomatically(out choice, memoryLimitBytes, hostThreads, gpuPlan);

        var matches = entries.Where(e => Matches(e.Info, spec)).ToList();
        if (matches.Count == 0)
        {
            string kind = spec.Split(':')[0];
            var kindNotes = notes.Where(n => n.StartsWith(kind + ":", StringComparison.Ordinal)).ToList();
            string why = kindNotes.Count > 0 ? $" ({string.Join("; ", kindNotes)})" : "";
            // "gpu" is what people mean by cuda or opencl; a typo of a kind's name gets that name.
            if (spec is "gpu" or "nvidia" or "amd" or "intel")
                throw new UserInputException($"no device '{spec}': a GPU is named cuda (NVIDIA) or opencl (any OpenCL GPU); this machine has: {Available()}");
            throw new UserInputException($"no device '{spec}'{why}; available: {Available()}{Suggestions.DidYouMean(spec, ["auto", "host", "cpu", "cuda", "opencl"])}");
        }

        var entry = matches.Find(e => e.Info.Usable || e.Unchecked) ?? matches[0];
        RequireHostForThreads(entry, hostThreads, spec);
        var backend = entry.Info.Usable || entry.Unchecked ? TryOpen(entry, memoryLimitBytes, hostThreads, gpuPlan) : null;
        if (backend is null)
            throw new UserInputException($"device '{spec}' ({entry.Info.Name}) is not usable: {entry.Info.Reason}; available: {Available()}");
        choice = Describe(entry);
        return backend;
    }

    public void Dispose()
    {
        foreach (var context in contexts)
            context.Dispose();
        contexts.Clear();
    }

    /// <summary>A usable CUDA GPU, else a usable OpenCL GPU (discrete before integrated), else the host's own SIMD path.</summary>
    private ITrainingBackend OpenAutomatically(out string choice, long? memoryLimitBytes, int? hostThreads, bool gpuPlan)
    {
        var candidates = entries.Where(e => e.Info.Kind == DeviceKind.Cuda && e.Info.Usable)
            .Concat(entries.Where(e => e.Info.Kind == DeviceKind.OpenCl && e.IsGpu && !e.IsForChecking && (e.Info.Usable || e.Unchecked)).OrderBy(e => e.IsIntegrated))
            .Append(entries.Find(e => e.Info.Kind == DeviceKind.Host)!);
        foreach (var entry in candidates)
        {
            if (TryOpen(entry, memoryLimitBytes, hostThreads, gpuPlan) is not { } backend)
                continue;
            if (hostThreads is not null && entry.Info.Kind != DeviceKind.Host)
            {
                backend.Dispose();
                RequireHostForThreads(entry, hostThreads, "auto");
            }

            var passedOver = new List<string>();
            if (entry.Info.Kind != DeviceKind.Cuda)
                passedOver.Add(WhyNone(DeviceKind.Cuda));
            if (entry.Info.Kind == DeviceKind.Host)
                passedOver.Add(WhyNone(DeviceKind.OpenCl));
            choice = passedOver.Count == 0 ? $"auto: {Describe(entry)}" : $"auto: {Describe(entry)}; {string.Join("; ", passedOver)}";
            return backend;
        }

        throw new UnreachableException("the host is always usable");
    }

    /// <summary>--threads sizes the host path's worker pool; on any other device it would be silently ignored.</summary>
    private static void RequireHostForThreads(Entry entry, int? hostThreads, string spec)
    {
        if (hostThreads is not null && entry.Info.Kind != DeviceKind.Host)
            throw new UserInputException($"--threads is for --device host; '{spec}' is {entry.Info.Id} ({entry.Info.Name}), whose threads ILGPU or its driver schedules");
    }

    /// <summary>The backend for <paramref name="entry"/>, or null when it turns out unusable (its info then says why).</summary>
    private ITrainingBackend? TryOpen(Entry entry, long? memoryLimitBytes, int? hostThreads, bool gpuPlan)
    {
        if (entry.Device is null || entry.Context is null)
            return new HostBackend(hostThreads, memoryLimitBytes);
        if (entry.Unchecked && entry.Device is CLDevice device)
            ApplyOverrides(entry, device);
        var (backend, error) = Build(entry.Context, entry.Device, entry, memoryLimitBytes, gpuPlan);
        if (backend is null)
        {
            entry.MarkUnusable(error!);
            return null;
        }

        if (entry.Unchecked)
            entry.MarkUsable(entry.NeedsCVersion ? CVersionNote : OverrideNote);
        contexts.Remove(entry.Context);
        return backend;
    }

    /// <summary>Builds every kernel on a fresh context of the same device, as listing needs, and records the result.</summary>
    private static void CheckByBuilding(Entry entry)
    {
        var context = IlgpuContexts.Create(builder => builder.OpenCL(_ => true));
        var device = context.Devices.OfType<CLDevice>().FirstOrDefault(d => d.DeviceId == ((CLDevice)entry.Device!).DeviceId);
        if (device is null)
        {
            context.Dispose();
            entry.MarkUnusable("the driver did not list it a second time");
            return;
        }

        ApplyOverrides(entry, device);
        var (backend, error) = Build(context, device, entry, memoryLimitBytes: null, gpuPlan: false);
        if (backend is null)
        {
            context.Dispose();
            entry.MarkUnusable(error!);
            return;
        }

        backend.Dispose();
        entry.MarkUsable(entry.NeedsCVersion ? CVersionNote : OverrideNote);
    }

    private static void ApplyOverrides(Entry entry, CLDevice device)
    {
        if (!device.Capabilities.GenericAddressSpace)
            GenericAddressSpaceOverride.Apply(device);
        if (entry.NeedsCVersion)
            CVersionOverride.Apply(device);
    }

    /// <summary>Creates the accelerator and builds every kernel; on failure, the compiler's first error line (ILGPU traces the build log).</summary>
    private static (IlgpuBackend? Backend, string? Error) Build(Context context, Device device, Entry entry, long? memoryLimitBytes, bool gpuPlan)
    {
        using var log = new StringWriter();
        using var listener = new TextWriterTraceListener(log);
        Trace.Listeners.Add(listener);
        try
        {
            return (new IlgpuBackend(context, device, Describe(entry), memoryLimitBytes, planAsGpu: gpuPlan), null);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            listener.Flush();
            string? compilerError = log.ToString().Split('\n').Select(l => l.Trim()).FirstOrDefault(l => l.Contains("error", StringComparison.OrdinalIgnoreCase));
            string reason = compilerError ?? e.Message.ReplaceLineEndings(" ");
            string overridden = entry.NeedsCVersion ? "ILGPU reports OpenCL C older than 2.0" : "ILGPU reports no generic address space";
            return (null, entry.Unchecked ? $"{overridden}, and building the kernels failed: {reason}" : reason);
        }
        finally
        {
            Trace.Listeners.Remove(listener);
        }
    }

    private string WhyNone(DeviceKind kind)
    {
        var found = entries.Where(e => e.Info.Kind == kind).ToList();
        if (found.Count > 0)
            return string.Join("; ", found.Select(e => $"{e.Info.Id} ({e.Info.Name}) {(e.IsForChecking ? "is for checking kernels" : !e.IsGpu ? "is not a GPU" : e.Info.Usable ? "is usable" : "unusable: " + e.Info.Reason)}"));
        string name = DeviceInfo.NameOf(kind);
        return notes.FirstOrDefault(n => n.StartsWith(name, StringComparison.Ordinal)) ?? $"{name}: no device";
    }

    private static string Describe(Entry entry) => $"{entry.Info.Id} ({entry.Info.Name})";

    /// <summary>"opencl", "opencl:1", "3", or a kind and a part of the name: "opencl:rusticl".</summary>
    private static bool Matches(DeviceInfo info, string spec) =>
        spec == info.KindName || spec == info.Id || spec == info.Index.ToString(CultureInfo.InvariantCulture)
        || (spec.StartsWith(info.KindName + ":", StringComparison.Ordinal) && spec.Length > info.KindName.Length + 1
            && !char.IsAsciiDigit(spec[info.KindName.Length + 1]) && info.Name.Contains(spec[(info.KindName.Length + 1)..], StringComparison.OrdinalIgnoreCase));

    private string Available()
    {
        if (!partial)
            return Listed();
        using var everything = new DeviceCatalog();
        return everything.Listed();
    }

    private string Listed() =>
        string.Join(", ", entries.Where(e => e.Info.Usable || e.Unchecked).Select(e => $"{e.Info.Index}={Describe(e)}"));

    /// <summary>The engine's own CPU path: always there, always usable.</summary>
    private void AddHost()
    {
        var info = new DeviceInfo(
            entries.Count, DeviceKind.Host, 0, $"host CPU, {HostBackend.SimdName}, {Environment.ProcessorCount} threads", GC.GetGCMemoryInfo().TotalAvailableMemoryBytes,
            Environment.ProcessorCount, 1, Environment.ProcessorCount, IsGpu: false, Usable: true, Reason: null);
        entries.Add(new Entry(info, Device: null, Context: null, IsGpu: false, IsIntegrated: false, Unchecked: false));
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
            context = IlgpuContexts.Create(configure);
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
        bool needsOverride = false, needsCVersion = false;
        string name = device.Name.Trim();
        if (device is CLDevice cl)
        {
            (reason, needsOverride, needsCVersion) = OpenClUnusableReason(cl);
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
            device.WarpSize, device.MaxNumThreadsPerGroup, isGpu, reason is null, reason);
        return new Entry(info, device, context, isGpu, isIntegrated, needsOverride)
        {
            NeedsCVersion = needsCVersion,
            IsForChecking = needsCVersion || Simulators.Any(s => name.Contains(s, StringComparison.OrdinalIgnoreCase)),
        };
    }

    /// <summary>
    /// ILGPU's own test for an OpenCL device it can compile for, with the reason; whether only
    /// the overrides stand in the way, and whether the C version's is one of them.
    /// </summary>
    private static (string? Reason, bool NeedsOverride, bool NeedsCVersion) OpenClUnusableReason(CLDevice device)
    {
        var minimum = ILGPU.Backends.OpenCL.CLBackend.MinimumVersion;
        bool oldC = device.CLStdVersion < minimum;
        if (oldC && !CVersionOverride.IsAvailable)
            return ($"OpenCL C {device.CLStdVersion} is older than the {minimum} that ILGPU needs", false, false);
        if (!device.Capabilities.GenericAddressSpace && !GenericAddressSpaceOverride.IsAvailable)
            return ($"OpenCL {device.DeviceVersion} without generic address space support, which ILGPU needs", false, false);
        return oldC || !device.Capabilities.GenericAddressSpace ? ("not checked yet", true, oldC) : (null, false, false);
    }

    /// <summary>A device; the host backend has no ILGPU device or context. <see cref="Unchecked"/>: usable only if its kernels build, not yet tried.</summary>
    private sealed class Entry(DeviceInfo info, Device? Device, Context? Context, bool IsGpu, bool IsIntegrated, bool Unchecked)
    {
        public DeviceInfo Info { get; private set; } = info;

        public Device? Device { get; } = Device;

        public Context? Context { get; } = Context;

        public bool IsGpu { get; } = IsGpu;

        public bool IsIntegrated { get; } = IsIntegrated;

        public bool Unchecked { get; private set; } = Unchecked;

        /// <summary>Usable only with <see cref="CVersionOverride"/>.</summary>
        public bool NeedsCVersion { get; init; }

        /// <summary>A simulator, or a device ILGPU only compiles for through the C-version override: for checking kernels, never chosen by auto.</summary>
        public bool IsForChecking { get; init; }

        public void MarkUsable(string note)
        {
            Info = Info with { Usable = true, Reason = null, Note = note };
            Unchecked = false;
        }

        public void MarkUnusable(string reason)
        {
            Info = Info with { Usable = false, Reason = reason };
            Unchecked = false;
        }
    }
}
