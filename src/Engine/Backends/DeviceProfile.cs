using ILGPU.Runtime;
using ILGPU.Runtime.OpenCL;

namespace MnistGpu.Engine.Backends;

/// <summary>
/// The limits launch planning depends on. Normally read from the accelerator; an explicit
/// profile lets tests plan launches for a GPU while running on ILGPU's CPU accelerator, whose
/// NVIDIA-like device reports unlimited shared memory and a single multiprocessor.
/// </summary>
/// <param name="RunsOnCpu">The device's threads are CPU cores: ILGPU's CPU accelerator, or an OpenCL CPU device such as PoCL.</param>
/// <param name="IsOpenCl">An OpenCL device: its drivers lack the work-group collectives ILGPU.Algorithms reduces with there.</param>
public sealed record DeviceProfile(
    bool IsCpuAccelerator, int WarpSize, int MaxThreadsPerGroup, int MaxSharedMemoryPerGroup, int Multiprocessors, int MaxThreadsPerMultiprocessor, bool RunsOnCpu = false, bool IsOpenCl = false)
{
    /// <summary>An NVIDIA H200: warp 32, 1024 threads and 48 KiB static shared memory per group, 132 SMs of 2048 threads.</summary>
    public static DeviceProfile NvidiaH200 { get; } = new(false, 32, 1024, 48 * 1024, 132, 2048);

    /// <summary>
    /// What every NVIDIA GPU since Maxwell allows a group: warp 32, 1024 threads, 48 KiB of static
    /// shared memory; one multiprocessor, since group sizes, not grids, are what this plans.
    /// </summary>
    public static DeviceProfile AnyNvidiaGpu { get; } = new(false, 32, 1024, 48 * 1024, 1, 2048);

    public static DeviceProfile Of(Accelerator accelerator) => new(
        accelerator.AcceleratorType == AcceleratorType.CPU,
        Math.Max(1, accelerator.WarpSize),
        accelerator.MaxNumThreadsPerGroup,
        (int)Math.Min(int.MaxValue, accelerator.MaxSharedMemoryPerGroup),
        Math.Max(1, accelerator.NumMultiprocessors),
        Math.Max(accelerator.MaxNumThreadsPerGroup, accelerator.MaxNumThreadsPerMultiprocessor),
        accelerator.AcceleratorType == AcceleratorType.CPU || (accelerator is CLAccelerator cl && cl.DeviceType.HasFlag(CLDeviceType.CL_DEVICE_TYPE_CPU)),
        accelerator is CLAccelerator);
}
