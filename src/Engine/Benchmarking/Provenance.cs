using System.Reflection;
using System.Runtime.InteropServices;

namespace MnistGpu.Engine.Benchmarking;

/// <summary>Where a measurement came from: the code, the runtime and the machine.</summary>
public sealed record Provenance(string Commit, string DotNet, string Ilgpu, string Cpu, int CpuCores, string OperatingSystem, DateTimeOffset MeasuredAt)
{
    public static Provenance Collect() => new(
        BuildCommit(),
        RuntimeInformation.FrameworkDescription,
        typeof(ILGPU.Context).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0]
            ?? typeof(ILGPU.Context).Assembly.GetName().Version?.ToString() ?? "unknown",
        CpuModel(),
        Environment.ProcessorCount,
        RuntimeInformation.OSDescription,
        DateTimeOffset.UtcNow);

    /// <summary>The commit the engine was built from; the SDK stamps it into the informational version.</summary>
    private static string BuildCommit()
    {
        string? version = typeof(Provenance).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion;
        int plus = version?.IndexOf('+', StringComparison.Ordinal) ?? -1;
        return plus >= 0 ? version![(plus + 1)..] : "unknown";
    }

    private static string CpuModel()
    {
        try
        {
            string? line = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal));
            if (line is not null)
                return line[(line.IndexOf(':', StringComparison.Ordinal) + 1)..].Trim();
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }

        return RuntimeInformation.ProcessArchitecture.ToString();
    }
}
