using System.Runtime.InteropServices;

namespace MnistGpu.Engine.IO;

/// <summary>
/// The few POSIX calls .NET does not expose: opening a FIFO without blocking, so that waiting for
/// its reader stays interruptible; the canonical path of a folder; ownership; whether the caller
/// may write a file; and advisory locks (flock). Linux and macOS only; callers keep to the .NET APIs on Windows.
/// </summary>
internal static partial class NativeFiles
{
    public const int WriteOnly = 1;
    public const int WriteAccess = 2;
    public const short PollOut = 4;

    /// <summary>O_NONBLOCK, O_CLOEXEC: their values differ between Linux and macOS.</summary>
    public static int NonBlocking => OperatingSystem.IsLinux() ? 0x800 : 0x4;

    public static int CloseOnExec => OperatingSystem.IsLinux() ? 0x80000 : 0x1000000;

    /// <summary>O_RDWR | O_CREAT: open for reading and writing, creating the file if it is missing.</summary>
    public static int ReadWriteCreate => 2 | (OperatingSystem.IsLinux() ? 0x40 : 0x200);

    /// <summary>flock's LOCK_EX | LOCK_NB (the same on Linux and macOS): an exclusive lock, refused at once when another holds one.</summary>
    public const int ExclusiveLockNow = 2 | 4;

    /// <summary>ENXIO: a FIFO opened for writing without blocking has no reader yet.</summary>
    public const int NoReader = 6;

    /// <summary>EAGAIN: the pipe is full.</summary>
    public static int WouldBlock => OperatingSystem.IsLinux() ? 11 : 35;

    public const int Interrupted = 4;

    [LibraryImport("libc", EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial int Open(string path, int flags, int mode);

    [LibraryImport("libc", EntryPoint = "flock", SetLastError = true)]
    public static partial int Lock(int descriptor, int operation);

    [LibraryImport("libc", EntryPoint = "write", SetLastError = true)]
    public static unsafe partial nint Write(int descriptor, byte* buffer, nint count);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    public static partial int Close(int descriptor);

    [LibraryImport("libc", EntryPoint = "poll", SetLastError = true)]
    public static unsafe partial int Poll(PollDescriptor* descriptors, nuint count, int timeoutMilliseconds);

    [LibraryImport("libc", EntryPoint = "access", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial int Access(string path, int mode);

    [LibraryImport("libc", EntryPoint = "geteuid")]
    public static partial uint EffectiveUser();

    [LibraryImport("libc", EntryPoint = "chown", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial int ChangeOwner(string path, uint owner, uint group);

    [LibraryImport("libc", EntryPoint = "realpath", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial nint RealPath(string path, nint resolved);

    [LibraryImport("libc", EntryPoint = "free")]
    private static partial void Free(nint pointer);

    /// <summary>The absolute path of <paramref name="path"/> with every link, "." and ".." resolved; null when it does not exist.</summary>
    public static string? Canonical(string path)
    {
        nint resolved = RealPath(path, 0);
        if (resolved == 0)
            return null;
        try
        {
            return Marshal.PtrToStringUTF8(resolved);
        }
        finally
        {
            Free(resolved);
        }
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct PollDescriptor
    {
        public int Descriptor;
        public short Events;
        public short ReturnedEvents;
    }
}
