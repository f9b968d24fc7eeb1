using System.Reflection;

namespace MnistGpu.Engine.Backends;

/// <summary>
/// A property setter ILGPU keeps to itself (private, protected or internal), reached through
/// reflection: the one mechanism behind the engine's ILGPU workarounds (generic address space,
/// OpenCL C version, kernel information). Each workaround's test checks <see cref="IsAvailable"/>,
/// so a new ILGPU that moves the setter fails loudly.
/// </summary>
internal sealed class HiddenSetter<TOwner, TValue>(string property)
{
    private readonly MethodInfo? setter = typeof(TOwner).GetProperty(property)?.GetSetMethod(nonPublic: true);

    /// <summary>Whether this ILGPU still has the setter.</summary>
    public bool IsAvailable => setter is not null;

    /// <exception cref="InvalidOperationException">This ILGPU has no such setter.</exception>
    public void Set(TOwner owner, TValue value)
    {
        if (setter is null)
            throw new InvalidOperationException($"this ILGPU has no setter for {typeof(TOwner).Name}.{property}");
        setter.Invoke(owner, [value]);
    }
}
