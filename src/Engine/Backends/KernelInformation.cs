using ILGPU;

namespace MnistGpu.Engine.Backends;

/// <summary>
/// ILGPU reports what a compiled kernel allocates in shared memory (ILGPU.Algorithms' reductions
/// included) only when its context enables kernel information, and 1.5.3 has no public way to
/// enable it (the property's setter is protected), hence reflection: the fourth reach into its
/// internals, beside the generic-address-space and C-version overrides and the barrier fence.
/// What <c>kernels --ptx</c> states and <c>.ci/ptx-check</c> compares with ptxas comes from here.
/// </summary>
internal static class KernelInformation
{
    private static readonly HiddenSetter<ContextProperties, bool> Setter = new(nameof(ContextProperties.EnableKernelInformation));

    /// <summary>Whether this ILGPU still has the protected setter.</summary>
    public static bool IsAvailable => Setter.IsAvailable;

    /// <summary>Makes every kernel <paramref name="context"/> compiles from now on carry its information.</summary>
    /// <exception cref="InvalidOperationException">This ILGPU has no such setter.</exception>
    public static void Enable(Context context) => Setter.Set(context.Properties, true);
}
