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
    /// Sends <paramref name="signal"/> ("INT", "TERM") to <paramref name="process"/>, first failing
    /// the test with the reason when the child ignores it: a process started with SIGINT ignored (a
    /// shell's <c>nohup … &amp;</c> does that to everything it starts) keeps it ignored, and .NET then
    /// installs no handler, so a test of Ctrl-C would otherwise only time out and leave the child running.
    /// </summary>
    public static void Signal(Process process, string signal)
    {
        int number = signal switch { "INT" => 2, "TERM" => 15, _ => throw new ArgumentException($"no such signal here: {signal}", nameof(signal)) };
        string status = $"/proc/{process.Id}/status";
        string? ignored = File.Exists(status) ? File.ReadLines(status).FirstOrDefault(line => line.StartsWith("SigIgn:", StringComparison.Ordinal)) : null;
        if (ignored is not null && (ulong.Parse(ignored["SigIgn:".Length..].Trim(), NumberStyles.HexNumber, CultureInfo.InvariantCulture) & (1UL << (number - 1))) != 0)
        {
            process.Kill();
            Assert.Fail($"the child ignores SIG{signal} ({ignored.Trim()}): it inherited that from the test run's parent (started with nohup … & ?); run the tests from a shell that does not ignore it");
        }

        Posix.Kill(process.Id, number);
    }

    /// <summary>Whether <paramref name="process"/> exits within <paramref name="milliseconds"/>; if not, it is killed, so a failing test leaves nothing running.</summary>
    public static bool ExitsWithin(Process process, int milliseconds)
    {
        if (process.WaitForExit(milliseconds))
            return true;
        process.Kill(entireProcessTree: true);
        return false;
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
