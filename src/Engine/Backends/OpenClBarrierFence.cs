using System.Reflection;
using ILGPU.Backends.OpenCL;

namespace MnistGpu.Engine.Backends;

/// <summary>
/// ILGPU 1.5.3 writes every group barrier in OpenCL C as <c>work_group_barrier(CLK_GLOBAL_MEM_FENCE)</c>:
/// under OpenCL's memory model that orders global memory only, so one work-item's writes to
/// shared (local) memory are not guaranteed visible to another after the barrier — a data race
/// that Oclgrind reports in every kernel that stages tiles in shared memory, and that real AMD
/// GPUs have shown. PTX is not affected (<c>bar.sync</c> orders shared memory too). The flags
/// ILGPU writes come from one private table, <c>CLInstructions.MemoryFenceFlags</c>; its global
/// entry is made to fence local memory as well, before any OpenCL C is generated. The second
/// reach into ILGPU's internals beside <see cref="Devices.GenericAddressSpaceOverride"/>; a test
/// fails loudly when a new ILGPU no longer has the table, and another reads every kernel's
/// generated OpenCL C for a barrier without <c>CLK_LOCAL_MEM_FENCE</c>. docs/kernels.md keeps a
/// minimal reproduction to report upstream.
/// </summary>
internal static class OpenClBarrierFence
{
    /// <summary>What every barrier fences: global and local memory.</summary>
    public const string BothFences = "CLK_GLOBAL_MEM_FENCE | CLK_LOCAL_MEM_FENCE";

    private static readonly FieldInfo? Table = typeof(CLInstructions).GetField("MemoryFenceFlags", BindingFlags.NonPublic | BindingFlags.Static);

    /// <summary>Whether this ILGPU still has the table.</summary>
    public static bool IsAvailable => Table?.GetValue(null) is string[] { Length: 2 };

    /// <summary>Makes the global fence entry fence local memory too; safe to call any number of times.</summary>
    /// <exception cref="InvalidOperationException">This ILGPU has no such table.</exception>
    public static void Apply()
    {
        if (Table?.GetValue(null) is not string[] { Length: 2 } flags)
            throw new InvalidOperationException("this ILGPU has no private CLInstructions.MemoryFenceFlags table of two entries");
        flags[0] = BothFences;
    }
}
