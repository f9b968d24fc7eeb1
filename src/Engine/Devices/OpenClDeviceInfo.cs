using System.Runtime.InteropServices;

namespace MnistGpu.Engine.Devices;

/// <summary>
/// What ILGPU does not tell about an OpenCL device: whether it shares memory with the host (an
/// integrated GPU), asked of the driver directly.
/// </summary>
internal static partial class OpenClDeviceInfo
{
    private const uint HostUnifiedMemory = 0x1035;

    public static bool IsIntegrated(IntPtr device)
    {
        try
        {
            return GetDeviceInfo(device, HostUnifiedMemory, sizeof(uint), out uint value, out _) == 0 && value != 0;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return false;
        }
    }

    [LibraryImport("OpenCL", EntryPoint = "clGetDeviceInfo")]
    private static partial int GetDeviceInfo(IntPtr device, uint parameter, nuint size, out uint value, out nuint sizeReturned);
}
