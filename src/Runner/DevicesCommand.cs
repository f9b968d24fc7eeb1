using System.CommandLine;
using System.Globalization;
using MnistGpu.Engine.Devices;

namespace MnistGpu.Runner;

/// <summary><c>mnistgpu devices</c>: every device ILGPU can see, usable or not, and why.</summary>
internal static class DevicesCommand
{
    public static Command Create(TextWriter output, TextWriter diagnostics)
    {
        var command = new Command("devices", "List the devices ILGPU can see, whether each is usable, and why not");
        command.SetAction(_ =>
        {
            using var catalog = new DeviceCatalog();
            var table = Tables.Create("#", "device", "name", "memory", "compute units", "warp", "max group", "usable");
            foreach (var device in catalog.Devices)
            {
                table.AddRow(
                    device.Index.ToString(CultureInfo.InvariantCulture),
                    device.Id,
                    device.Name,
                    FormatBytes(device.MemoryBytes),
                    device.ComputeUnits.ToString(CultureInfo.InvariantCulture),
                    device.WarpSize > 0 ? device.WarpSize.ToString(CultureInfo.InvariantCulture) : "-",
                    device.MaxGroupSize.ToString(CultureInfo.InvariantCulture),
                    device.Usable ? (device.Note is null ? "yes" : $"yes ({device.Note})") : $"no: {device.Reason}");
            }

            Tables.Write(output, table);
            foreach (string note in catalog.Notes)
                diagnostics.WriteLine(note);
            return Cli.Ok;
        });
        return command;
    }

    private static string FormatBytes(long bytes) => bytes switch
    {
        <= 0 => "-",
        >= 1L << 30 => string.Create(CultureInfo.InvariantCulture, $"{bytes / (double)(1L << 30):F1} GiB"),
        _ => string.Create(CultureInfo.InvariantCulture, $"{bytes / (double)(1L << 20):F0} MiB"),
    };
}
