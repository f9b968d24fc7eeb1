using System.Diagnostics;
using System.Globalization;
using MnistGpu.Runner;

namespace MnistGpu.Tests.Support;

/// <summary>
/// The command line in a child process, for what an in-process run cannot show: signals, and the
/// memory the whole process reaches.
/// </summary>
internal static class RunnerProcess
{
    public static Process Start(params string[] args) => Start(new Dictionary<string, string>(), args);

    /// <param name="environment">Variables set for the child alone, e.g. OCL_ICD_VENDORS to choose the OpenCL runtimes it sees.</param>
    public static Process Start(IReadOnlyDictionary<string, string> environment, params string[] args)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(typeof(Cli).Assembly.Location);
        foreach (string arg in args)
            start.ArgumentList.Add(arg);
        foreach (var (name, value) in environment)
            start.Environment[name] = value;
        return Process.Start(start)!;
    }

    /// <summary>
    /// Runs to the end and returns the exit code, stderr and the process's peak resident memory
    /// (Linux's VmHWM, a high-water mark, read until the process is gone).
    /// </summary>
    public static (int Code, string Error, long PeakBytes) RunMeasured(params string[] args)
    {
        using var process = Start(args);
        var error = process.StandardError.ReadToEndAsync();
        var output = process.StandardOutput.ReadToEndAsync();
        long peak = 0;
        while (!process.WaitForExit(10))
            peak = Math.Max(peak, HighWaterMark(process.Id));
        _ = output.Result;
        return (process.ExitCode, error.Result, peak);
    }

    private static long HighWaterMark(int pid)
    {
        try
        {
            string? line = File.ReadLines($"/proc/{pid}/status").FirstOrDefault(l => l.StartsWith("VmHWM:", StringComparison.Ordinal));
            var fields = line?.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            return fields is { Length: >= 2 } ? long.Parse(fields[1], CultureInfo.InvariantCulture) * 1024 : 0;
        }
        catch (IOException)
        {
            return 0;
        }
    }
}
