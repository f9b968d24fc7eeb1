using System.Buffers.Binary;
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

/// <summary>What <c>stat</c> reports of a path: its kind, permission bits (as <c>chmod</c> writes them), owner, and the device and inode that identify it.</summary>
public readonly record struct FileStatus(FileKind Kind, int Mode, uint Owner, uint Group, ulong Device, ulong Inode)
{
    public static FileStatus Missing { get; } = new(FileKind.Missing, 0, 0, 0, 0, 0);

    /// <summary>Whether both name the same existing file (on Windows, where no identity is read, never).</summary>
    public bool IsSameFile(FileStatus other) =>
        Kind != FileKind.Missing && other.Kind != FileKind.Missing && Inode != 0 && Device == other.Device && Inode == other.Inode;
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
    private const int AtEmptyPath = 0x1000;
    private const uint StatxBasicStats = 0x7FF;
    private const int StatxDeviceMajor = 136;
    private const int TypeMask = 0xF000;
    private const int PermissionMask = 0xFFF;

    /// <summary>Byte offsets of st_mode, st_uid (st_gid follows) and st_ino in Linux's <c>statx</c> and in macOS's 64-bit-inode <c>stat</c>.</summary>
    private static readonly (int Mode, int Owner, int Inode) StatxLayout = (28, 20, 32);
    private static readonly (int Mode, int Owner, int Inode) DarwinLayout = (4, 16, 8);

    /// <summary>The kind of <paramref name="path"/> (symbolic links followed; a dangling link is <see cref="FileKind.Missing"/>).</summary>
    public static FileKind Of(string path) => Status(path).Kind;

    /// <summary>
    /// What <c>stat</c> says of <paramref name="path"/> (symbolic links followed): its kind,
    /// permission bits, owner and identity. On Windows only the kind is known.
    /// </summary>
    public static FileStatus Status(string path)
    {
        if (OperatingSystem.IsWindows())
            return new FileStatus(Directory.Exists(path) ? FileKind.Directory : File.Exists(path) ? FileKind.Regular : FileKind.Missing, 0, 0, 0, 0, 0);

        Span<byte> buffer = stackalloc byte[512];
        buffer.Clear();
        int result = OperatingSystem.IsLinux()
            ? Statx(AtCurrentDirectory, path, 0, StatxBasicStats, ref buffer[0])
            : RuntimeInformation.ProcessArchitecture == Architecture.X64 ? StatDarwinX64(path, ref buffer[0]) : StatDarwin(path, ref buffer[0]);
        return result == 0 ? Decode(buffer) : FileStatus.Missing;
    }

    /// <summary>What <c>fstat</c> says of an open file: the identity of what was opened, whatever its path names now. Linux and macOS.</summary>
    public static FileStatus Status(SafeHandle file)
    {
        Span<byte> buffer = stackalloc byte[512];
        buffer.Clear();
        int descriptor = (int)file.DangerousGetHandle();
        int result = OperatingSystem.IsLinux()
            ? Statx(descriptor, "", AtEmptyPath, StatxBasicStats, ref buffer[0])
            : RuntimeInformation.ProcessArchitecture == Architecture.X64 ? FstatDarwinX64(descriptor, ref buffer[0]) : FstatDarwin(descriptor, ref buffer[0]);
        return result == 0 ? Decode(buffer) : FileStatus.Missing;
    }

    private static FileStatus Decode(ReadOnlySpan<byte> buffer)
    {
        bool linux = OperatingSystem.IsLinux();
        var layout = linux ? StatxLayout : DarwinLayout;
        int mode = BinaryPrimitives.ReadUInt16LittleEndian(buffer[layout.Mode..]);
        var kind = (mode & TypeMask) switch
        {
            0x8000 => FileKind.Regular,
            0x4000 => FileKind.Directory,
            0x2000 => FileKind.CharacterDevice,
            0x6000 => FileKind.BlockDevice,
            0x1000 => FileKind.Fifo,
            0xC000 => FileKind.Socket,
            _ => FileKind.Other,
        };
        ulong device = linux
            ? (ulong)BinaryPrimitives.ReadUInt32LittleEndian(buffer[StatxDeviceMajor..]) << 32 | BinaryPrimitives.ReadUInt32LittleEndian(buffer[(StatxDeviceMajor + 4)..])
            : BinaryPrimitives.ReadUInt32LittleEndian(buffer);
        return new FileStatus(
            kind,
            mode & PermissionMask,
            BinaryPrimitives.ReadUInt32LittleEndian(buffer[layout.Owner..]),
            BinaryPrimitives.ReadUInt32LittleEndian(buffer[(layout.Owner + 4)..]),
            device,
            BinaryPrimitives.ReadUInt64LittleEndian(buffer[layout.Inode..]));
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

    [LibraryImport("libc", EntryPoint = "fstat")]
    private static partial int FstatDarwin(int descriptor, ref byte buffer);

    [LibraryImport("libc", EntryPoint = "fstat$INODE64")]
    private static partial int FstatDarwinX64(int descriptor, ref byte buffer);
}
