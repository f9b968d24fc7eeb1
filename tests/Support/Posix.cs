using System.Diagnostics;
using System.Runtime.InteropServices;

namespace MnistGpu.Tests.Support;

/// <summary>File system fixtures a hostile user can make: FIFOs, and small file systems that fill up.</summary>
internal static partial class Posix
{
    /// <summary>Why FIFO and device tests cannot run here, or null when they can.</summary>
    public static string? NoFifos => OperatingSystem.IsWindows() ? "Windows has no FIFOs or device files" : null;

    public static string MakeFifo(string path)
    {
        if (MkFifo(path, Convert.ToUInt32("644", 8)) != 0)
            throw new IOException($"mkfifo {path} failed with errno {Marshal.GetLastPInvokeError()}");
        return path;
    }

    /// <summary>Sends signal <paramref name="signal"/> to process <paramref name="pid"/> at once (no `kill` program to start first).</summary>
    public static void Kill(int pid, int signal)
    {
        if (SendSignal(pid, signal) != 0)
            throw new IOException($"kill({pid}, {signal}) failed with errno {Marshal.GetLastPInvokeError()}");
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int SendSignal(int pid, int signal);

    [LibraryImport("libc", EntryPoint = "mkfifo", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int MkFifo(string path, uint mode);
}

/// <summary>
/// A tmpfs of a given size mounted on a temporary folder, to fill a disk for real. Mounting needs
/// root (CAP_SYS_ADMIN); where that is missing, <see cref="Unavailable"/> says so and tests skip.
/// </summary>
internal sealed class SmallDisk : IDisposable
{
    public SmallDisk(int kilobytes)
    {
        Directory.CreateDirectory(Path);
        string? problem = Run("mount", "-t", "tmpfs", "-o", $"size={kilobytes}k", "tmpfs", Path);
        if (problem is not null)
            Unavailable = $"cannot mount a {kilobytes} KiB tmpfs (needs root): {problem}";
    }

    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "mnistgpu-disk-" + Guid.NewGuid().ToString("N"));

    public string? Unavailable { get; }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    /// <summary>Fills every free byte, so the next write fails with ENOSPC.</summary>
    public void Fill()
    {
        using var filler = new FileStream(File("filler"), FileMode.Create);
        var block = new byte[4096];
        try
        {
            while (true)
                filler.Write(block);
        }
        catch (IOException)
        {
        }
    }

    public void Dispose()
    {
        if (Unavailable is null)
            Run("umount", "-l", Path);
        Directory.Delete(Path, recursive: true);
    }

    private static string? Run(string program, params string[] args)
    {
        try
        {
            var start = new ProcessStartInfo(program) { RedirectStandardError = true, RedirectStandardOutput = true };
            foreach (string arg in args)
                start.ArgumentList.Add(arg);
            using var process = Process.Start(start)!;
            string error = process.StandardError.ReadToEnd();
            process.WaitForExit();
            return process.ExitCode == 0 ? null : error.Trim();
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            return e.Message;
        }
    }
}
