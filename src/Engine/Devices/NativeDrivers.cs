using System.Reflection;
using System.Runtime.InteropServices;
using System.Runtime.Loader;

namespace MnistGpu.Engine.Devices;

/// <summary>
/// Finds the GPU driver libraries the way users' machines have them. ILGPU imports "cuda" and
/// "OpenCL", which .NET looks up as libcuda.so and libOpenCL.so; drivers install only the
/// versioned libcuda.so.1 and libOpenCL.so.1 (the unversioned names come with -dev packages).
/// The fallback hooks <see cref="AssemblyLoadContext.ResolvingUnmanagedDll"/>, which runs only
/// after normal probing and any DllImportResolver (ILGPU installs one under WSL) found nothing,
/// so it never conflicts with them.
/// </summary>
public static class NativeDrivers
{
    private static readonly Dictionary<string, string[]> Candidates = new(StringComparer.OrdinalIgnoreCase)
    {
        ["cuda"] = ["libcuda.so.1", "libcuda.so", "/usr/lib/wsl/lib/libcuda.so.1", "/usr/local/nvidia/lib64/libcuda.so.1"],
        ["OpenCL"] = ["libOpenCL.so.1", "libOpenCL.so"],
    };

    private static int registered;

    /// <summary>Installs the fallback once per process; later calls do nothing.</summary>
    public static void Register()
    {
        if (Interlocked.Exchange(ref registered, 1) == 0)
            AssemblyLoadContext.Default.ResolvingUnmanagedDll += Resolve;
    }

    /// <summary>Null when the driver library for <paramref name="api"/> ("cuda" or "OpenCL") loads; else why not.</summary>
    public static string? Problem(string api)
    {
        var tried = Candidates[api];
        foreach (string name in tried)
        {
            if (NativeLibrary.TryLoad(name, out nint handle))
            {
                NativeLibrary.Free(handle);
                return null;
            }
        }

        return $"{tried[0]} not found";
    }

    private static IntPtr Resolve(Assembly assembly, string libraryName)
    {
        bool ours = assembly == typeof(ILGPU.Context).Assembly || assembly == typeof(NativeDrivers).Assembly;
        if (!ours || !Candidates.TryGetValue(libraryName, out string[]? names))
            return IntPtr.Zero;
        foreach (string name in names)
        {
            if (NativeLibrary.TryLoad(name, out nint handle))
                return handle;
        }

        return IntPtr.Zero;
    }
}
