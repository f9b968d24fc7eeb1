using MnistGpu.Engine;
using MnistGpu.Engine.Devices;

namespace MnistGpu.Tests.Engine.Devices;

/// <summary>A catalogue for one --device value probes only the API it names; its errors still list every device.</summary>
public sealed class DeviceCatalogTests
{
    [Fact]
    public void Host_probes_no_other_api()
    {
        using var catalog = DeviceCatalog.For("host");
        Assert.Equal([DeviceKind.Host], catalog.Devices.Select(d => d.Kind));
        using var backend = catalog.Open("host", out string choice);
        Assert.StartsWith("host:0 ", choice, StringComparison.Ordinal);
    }

    [Fact]
    public void A_device_not_found_lists_the_devices_of_every_api()
    {
        using var all = new DeviceCatalog();
        using var cpuOnly = DeviceCatalog.For("cpu:7");
        Assert.Equal([DeviceKind.Cpu], cpuOnly.Devices.Select(d => d.Kind).Distinct());
        var error = Assert.Throws<UserInputException>(() => cpuOnly.Open("cpu:7", out _));
        var expected = Assert.Throws<UserInputException>(() => all.Open("cpu:7", out _));
        Assert.Equal(expected.Message, error.Message);
        Assert.Contains("=host:0 (", error.Message, StringComparison.Ordinal);
    }
}
