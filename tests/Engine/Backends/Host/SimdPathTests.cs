using System.Diagnostics;
using MnistGpu.Runner;
using MnistGpu.Tests.Support;

namespace MnistGpu.Tests.Engine.Backends.Host;

/// <summary>
/// The host path on CPUs without AVX-512 or AVX2: the same checks run in a child process with
/// those instruction sets switched off in the runtime, so each of the three vector widths is
/// verified on this machine, not only the widest.
/// </summary>
[Trait(Category.Name, Category.Slow)]
public sealed class SimdPathTests
{
    [Theory]
    [InlineData("DOTNET_EnableAVX512", "host (AVX2+FMA, 2 threads)")]
    [InlineData("DOTNET_EnableAVX2", "host (Vector<float>")]
    public async Task Every_check_passes_on_the_narrower_vector_paths(string switchedOff, string device)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string arg in new[] { typeof(Cli).Assembly.Location, "verify", "--device", "host", "--threads", "2" })
            start.ArgumentList.Add(arg);
        start.Environment[switchedOff] = "0";
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        await process.WaitForExitAsync(timeout.Token);

        // stderr carries the device chosen and nothing else: no error.
        Assert.StartsWith("Device: host:0", await error);
        Assert.Single((await error).TrimEnd().Split('\n'));
        Assert.Equal(0, process.ExitCode);
        Assert.Contains($"checks agree with the reference on {device}", await output);
    }
}
