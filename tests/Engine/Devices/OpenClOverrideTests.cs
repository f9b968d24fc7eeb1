using MnistGpu.Engine;
using MnistGpu.Engine.Devices;

namespace MnistGpu.Tests.Engine.Devices;

/// <summary>Naming devices by a part of their name, and the override that lets Oclgrind compile the kernels.</summary>
public sealed class OpenClOverrideTests
{
    [Fact]
    public void The_private_c_version_setter_exists()
    {
        Assert.True(CVersionOverride.IsAvailable, "ILGPU no longer has a private setter for CLDevice.CVersion: Oclgrind cannot check the kernels until CVersionOverride finds another way");
    }

    [Fact]
    public void A_device_is_named_by_its_kind_and_a_part_of_its_name()
    {
        using var catalog = new DeviceCatalog();
        using (var backend = catalog.Open("cpu:ACCELERATOR", out string choice))
            Assert.StartsWith("cpu:0 (ILGPU CPU accelerator", choice, StringComparison.Ordinal);

        var error = Assert.Throws<UserInputException>(() => catalog.Open("cpu:no such name", out _));
        Assert.StartsWith("no device 'cpu:no such name'", error.Message, StringComparison.Ordinal);
    }
}
