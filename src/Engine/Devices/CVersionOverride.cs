using ILGPU.Backends.OpenCL;
using ILGPU.Runtime.OpenCL;
using MnistGpu.Engine.Backends;

namespace MnistGpu.Engine.Devices;

/// <summary>
/// Oclgrind, the OpenCL simulator that finds data races and out-of-bounds accesses, reports
/// OpenCL C 1.2; ILGPU 1.5.3 refuses such a device, and would pass <c>-cl-std=CL1.2</c> while its
/// code calls OpenCL 2.0's <c>work_group_barrier</c>. Taking the device's C version as 2.0 (its
/// setter is private to ILGPU, hence reflection) makes every kernel build there. A device that
/// needs this is usable only when every kernel then builds, is never chosen by <c>auto</c>, and
/// is meant for checking kernels, not for training. The third reach into ILGPU's internals,
/// beside <see cref="GenericAddressSpaceOverride"/> and the barrier fence.
/// </summary>
internal static class CVersionOverride
{
    private static readonly HiddenSetter<CLDevice, CLCVersion> Setter = new(nameof(CLDevice.CVersion));

    /// <summary>Whether this ILGPU still has the private setter.</summary>
    public static bool IsAvailable => Setter.IsAvailable;

    /// <summary>Takes <paramref name="device"/>'s OpenCL C version as the lowest ILGPU accepts.</summary>
    /// <exception cref="InvalidOperationException">This ILGPU has no such setter.</exception>
    public static void Apply(CLDevice device)
    {
        if (!Setter.IsAvailable)
            throw new InvalidOperationException("this ILGPU has no private setter for CLDevice.CVersion");
        if (device.CLStdVersion < CLBackend.MinimumVersion)
            Setter.Set(device, CLBackend.MinimumVersion);
    }
}
