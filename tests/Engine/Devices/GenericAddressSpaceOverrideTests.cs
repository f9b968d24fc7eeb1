using ILGPU.Runtime.OpenCL;
using MnistGpu.Engine.Devices;

namespace MnistGpu.Tests.Engine.Devices;

/// <summary>The one reach into ILGPU's internals: when a new ILGPU moves them, this fails first, with the reason.</summary>
public sealed class GenericAddressSpaceOverrideTests
{
    [Fact]
    public void The_internal_setter_exists_and_turns_the_capability_on()
    {
        Assert.True(GenericAddressSpaceOverride.IsAvailable, "ILGPU no longer has an internal setter for CLCapabilityContext.GenericAddressSpace: PoCL cannot be used until DeviceCatalog finds another way");

        // Every capability off, as PoCL reports generic address space.
        var constructor = Assert.Single(typeof(CLCapabilityContext).GetConstructors());
        var capabilities = (CLCapabilityContext)constructor.Invoke(constructor.GetParameters().Select(_ => (object)false).ToArray());
        Assert.False(capabilities.GenericAddressSpace);

        GenericAddressSpaceOverride.Apply(capabilities);

        Assert.True(capabilities.GenericAddressSpace);
    }
}
