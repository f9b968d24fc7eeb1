using System.Runtime.InteropServices;

namespace MnistGpu.Engine.IO;

/// <summary>What a path names, after following symbolic links.</summary>
public enum FileKind
{
    Missing,
    Regular,
    Directory,
    CharacterDevice,
    BlockDevice,
    Fifo,
    Socket,
    Other,
}

/// <summary>
/// The type of a file system entry, which .NET does not report: <see cref="FileStream"/> blocks
/// inside its open call on a FIFO and reads a device such as /dev/zero without end, so every
/// input and output path is classified with <c>stat</c> before it is opened. Linux uses
/// <c>statx</c>, whose structure is the same on every architecture; macOS uses <c>stat</c>;
/// Windows has no FIFOs or device paths, so the .NET attributes suffice there.
/// </summary>
public static partial class FileKinds
{
    private const int AtCurrentDirectory = -100;
    private const uint StatxType = 0x1;
    private const int ModeOffsetStatx = 28;
    private const int ModeOffsetDarwin = 4;
    private const int TypeMask = 0xF000;

    /// <summary>The kind of <paramref name="path"/> (symbolic links followed; a dangling link is <see cref="FileKind.Missing"/>).</summary>
    public static FileKind Of(string path)
    {
        if (OperatingSystem.IsWindows())
            return Directory.Exists(path) ? FileKind.Directory : File.Exists(path) ? FileKind.Regular : FileKind.Missing;

        Span<byte> buffer = stackalloc byte[512];
        int result = OperatingSystem.IsLinux()
            ? Statx(AtCurrentDirectory, path, 0, StatxType, ref buffer[0])
            : RuntimeInformation.ProcessArchitecture == Architecture.X64 ? StatDarwinX64(path, ref buffer[0]) : StatDarwin(path, ref buffer[0]);
        if (result != 0)
            return FileKind.Missing;
        int offset = OperatingSystem.IsLinux() ? ModeOffsetStatx : ModeOffsetDarwin;
        int mode = buffer[offset] | buffer[offset + 1] << 8;
        return (mode & TypeMask) switch
        {
            0x8000 => FileKind.Regular,
            0x4000 => FileKind.Directory,
            0x2000 => FileKind.CharacterDevice,
            0x6000 => FileKind.BlockDevice,
            0x1000 => FileKind.Fifo,
            0xC000 => FileKind.Socket,
            _ => FileKind.Other,
        };
    }

    /// <summary>How a message names the kind: "a directory", "a FIFO (named pipe)".</summary>
    public static string Describe(FileKind kind) => kind switch
    {
        FileKind.Regular => "a regular file",
        FileKind.Directory => "a directory",
        FileKind.CharacterDevice => "a character device",
        FileKind.BlockDevice => "a block device",
        FileKind.Fifo => "a FIFO (named pipe)",
        FileKind.Socket => "a socket",
        FileKind.Missing => "missing",
        _ => "not a regular file",
    };

    [LibraryImport("libc", EntryPoint = "statx", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Statx(int directory, string path, int flags, uint mask, ref byte buffer);

    [LibraryImport("libc", EntryPoint = "stat", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int StatDarwin(string path, ref byte buffer);

    /// <summary>On Intel Macs plain <c>stat</c> is the 32-bit-inode layout; this is the one with st_mode at offset 4.</summary>
    [LibraryImport("libc", EntryPoint = "stat$INODE64", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int StatDarwinX64(string path, ref byte buffer);
}
