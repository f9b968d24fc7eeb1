using ILGPU.Runtime.OpenCL;
using MnistGpu.Engine.Backends;

namespace MnistGpu.Engine.Devices;

/// <summary>
/// ILGPU 1.5.3 refuses every OpenCL 3.0 device that does not report generic address space support
/// — PoCL 3.1, Debian's OpenCL runtime, among them — although the OpenCL C it emits for this
/// engine's kernels uses only explicit <c>global</c> and <c>local</c> pointers. Such a device is
/// therefore tried: this sets the capability flag (its setter is internal to ILGPU, hence
/// reflection), and <see cref="DeviceCatalog"/> counts the device usable only if the device's own
/// compiler then builds every kernel. The one place that reaches into ILGPU's internals; a test
/// fails loudly when a new ILGPU no longer has them.
/// </summary>
internal static class GenericAddressSpaceOverride
{
    private static readonly HiddenSetter<CLCapabilityContext, bool> Setter = new(nameof(CLCapabilityContext.GenericAddressSpace));

    /// <summary>Whether this ILGPU still has the internal setter.</summary>
    public static bool IsAvailable => Setter.IsAvailable;

    /// <summary>Makes ILGPU accept <paramref name="device"/>; whether the kernels build is for the caller to find out.</summary>
    /// <exception cref="InvalidOperationException">This ILGPU has no such setter.</exception>
    public static void Apply(CLDevice device) => Apply(device.Capabilities);

    /// <exception cref="InvalidOperationException">This ILGPU has no such setter.</exception>
    internal static void Apply(CLCapabilityContext capabilities) => Setter.Set(capabilities, true);
}
