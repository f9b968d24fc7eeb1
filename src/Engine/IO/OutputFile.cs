using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace MnistGpu.Engine.IO;

/// <summary>
/// The one rule for every file the program writes (--save, --json, --onnx, bench --json, the
/// previews). A regular file, or a new path, is written atomically: a temporary file in the
/// folder of the final target (through any symbolic links, which stay links), flushed to disk,
/// then renamed over the target, so readers see the old file or the new one, never a part. A
/// character device or FIFO (/dev/null, /dev/stdout, a pipe) is written to directly and never
/// replaced; waiting for a FIFO's reader ends when a stop signal arrives (<see cref="StopSignalReceived"/>).
/// A replaced file keeps its permission bits and owner; a read-only one is never replaced.
/// <see cref="Check"/> finds every problem a user can fix before any work starts; what fails
/// while writing (a full disk, an I/O error) is the environment's failure.
/// </summary>
public static class OutputFile
{
    /// <summary>errno values for a full disk or exhausted quota, as .NET reports them in <see cref="Exception.HResult"/> on Unix.</summary>
    private static readonly int[] DiskFullErrors = [28, 122];

    /// <summary>
    /// Fails now, not after training, when <paramref name="path"/> cannot be written: a folder
    /// where a file is wanted, a missing or read-only folder; and when its file system has less
    /// than <paramref name="bytesNeeded"/> free.
    /// </summary>
    /// <param name="option">How the user gave the path, for the message: "--save".</param>
    /// <exception cref="UserInputException">The path cannot be written.</exception>
    /// <exception cref="EngineException">The disk has too little free space.</exception>
    public static void Check(string path, string option, long bytesNeeded = 0)
    {
        var status = FileKinds.Status(path);
        if (status.Kind is FileKind.CharacterDevice or FileKind.Fifo)
            return;
        RequireReplaceableFile(path, option);

        string folder = FolderOf(Target(path, option));
        var folderKind = FileKinds.Of(folder);
        if (folderKind != FileKind.Directory)
            throw new UserInputException($"{option} {path}: folder {folder} {(folderKind == FileKind.Missing ? "does not exist" : "is not a folder")}");
        ProbeWritable(folder, $"{option} {path}");
        RequireFreeSpace(folder, bytesNeeded, $"{option} {path}");
    }

    /// <summary>
    /// As <see cref="Check"/> for a folder the program will fill (--previews): an existing folder
    /// must be writable, a new one must have a writable parent; each of <paramref name="files"/>
    /// inside it must be a file or nothing, each of <paramref name="folders"/> a folder or nothing.
    /// Nothing is created yet, so a run that fails leaves nothing behind.
    /// </summary>
    /// <exception cref="UserInputException">The folder, or a file in it, cannot be created or written.</exception>
    public static void CheckFolder(string path, string option, IReadOnlyList<string> files, IReadOnlyList<string> folders)
    {
        string full = Path.GetFullPath(path);
        var kind = FileKinds.Of(full);
        if (kind == FileKind.Directory)
        {
            ProbeWritable(full, $"{option} {path}");
            foreach (string file in files)
                RequireReplaceableFile(Path.Combine(full, file), option);
            foreach (string folder in folders)
            {
                string inside = Path.Combine(full, folder);
                var insideKind = FileKinds.Of(inside);
                if (insideKind == FileKind.Directory)
                    ProbeWritable(inside, $"{option} {inside}");
                else if (insideKind != FileKind.Missing)
                    throw new UserInputException($"{option} {inside}: is {FileKinds.Describe(insideKind)}, not a folder; the previews need a folder of that name");
            }

            return;
        }

        if (kind != FileKind.Missing)
            throw new UserInputException($"{option} {path}: is {FileKinds.Describe(kind)}, not a folder");
        string parent = FolderOf(full);
        if (FileKinds.Of(parent) != FileKind.Directory)
            throw new UserInputException($"{option} {path}: folder {parent} does not exist");
        ProbeWritable(parent, $"{option} {path}");
    }

    /// <summary>Writes <paramref name="bytes"/> to <paramref name="path"/> by the rule above.</summary>
    /// <exception cref="UserInputException">The path is a folder or another kind of file that is never written, or a read-only file.</exception>
    /// <exception cref="EngineException">Writing failed: disk full, I/O error, permission lost, or a stop signal while waiting for a FIFO's reader. The temporary file is gone.</exception>
    public static void Write(string path, byte[] bytes) => Write(path, stream => stream.Write(bytes));

    /// <summary>
    /// As <see cref="Write(string, byte[])"/>, but a FIFO's reader is waited for only while no stop
    /// signal has come since <paramref name="stopSignalsBefore"/> (<see cref="StopSignalCount"/>
    /// when the work began): what a run writes after it finished, so that Ctrl-C just before the
    /// wait still ends it.
    /// </summary>
    /// <exception cref="UserInputException">The path is a folder or another kind of file that is never written, or a read-only file.</exception>
    /// <exception cref="EngineException">Writing failed, or a stop signal came while a FIFO had no reader.</exception>
    public static void Write(string path, byte[] bytes, int stopSignalsBefore) => Write(path, stream => stream.Write(bytes), stopSignalsBefore);

    /// <summary>
    /// Writes what <paramref name="write"/> writes to the stream it is given, by the rule above:
    /// for files larger than one array (a checkpoint of over 2 GiB) without holding them whole.
    /// </summary>
    /// <exception cref="UserInputException">The path is a folder or another kind of file that is never written, or a read-only file.</exception>
    /// <exception cref="EngineException">Writing failed: disk full, I/O error, permission lost, or a stop signal while waiting for a FIFO's reader. The temporary file is gone.</exception>
    public static void Write(string path, Action<Stream> write) => Write(path, write, stopSignalsBefore: null);

    private static void Write(string path, Action<Stream> write, int? stopSignalsBefore)
    {
        var status = FileKinds.Status(path);
        if (status.Kind is FileKind.CharacterDevice or FileKind.Fifo)
        {
            WriteDirectly(path, status.Kind, write, stopSignalsBefore);
            return;
        }

        RequireReplaceableFile(path, "");

        string target = Target(path, "");
        string folder = FolderOf(target);
        string name = Path.GetFileName(target);
        RemoveOrphans(folder, name);
        string temporary = Path.Combine(folder, TemporaryName(name, Environment.ProcessId));
        try
        {
            using (var file = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None, bufferSize: 1 << 16))
            {
                write(file);
                file.Flush(flushToDisk: true);
            }

            KeepModeAndOwner(temporary, status);
            File.Move(temporary, target, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            TryDelete(temporary);
            throw WriteFailure(path, e);
        }
        catch
        {
            TryDelete(temporary);
            throw;
        }
    }

    /// <summary>
    /// Tells every write waiting for a FIFO's reader, now, to give up: called by a front end's
    /// handler of Ctrl-C and SIGTERM, which would otherwise be swallowed while the program waits.
    /// A wait that starts after the signal (the checkpoint a stop writes) waits for the next one.
    /// </summary>
    public static void StopSignalReceived() => Interlocked.Increment(ref stopSignals);

    /// <summary>Stop signals received so far, for a write that must give up at any signal after a moment (<see cref="Write(string, byte[], int)"/>).</summary>
    public static int StopSignalCount => Volatile.Read(ref stopSignals);

    private static int stopSignals;

    /// <summary>
    /// The temporary file a write of <paramref name="name"/> by process <paramref name="processId"/>
    /// goes through: ".NAME.PID.tmp", NAME shortened so that the whole fits a file system's 255 bytes.
    /// </summary>
    internal static string TemporaryName(string name, int processId) =>
        string.Create(CultureInfo.InvariantCulture, $".{TemporaryStem(name)}.{processId}.tmp");

    /// <summary>Longest name in bytes that Linux, macOS and Windows file systems accept.</summary>
    private const int NameMaxBytes = 255;

    /// <summary>The part of a temporary name taken from the target's name: what fits beside the dots, the longest process id (10 digits) and ".tmp".</summary>
    private static string TemporaryStem(string name)
    {
        const int Budget = NameMaxBytes - 1 - 1 - 10 - 4;
        if (Encoding.UTF8.GetByteCount(name) <= Budget)
            return name;
        var stem = new StringBuilder();
        int bytes = 0;
        foreach (var rune in name.EnumerateRunes())
        {
            if (bytes + rune.Utf8SequenceLength > Budget)
                break;
            stem.Append(rune.ToString());
            bytes += rune.Utf8SequenceLength;
        }

        return stem.ToString();
    }

    /// <summary>One line for a write that failed; a full disk is named as such.</summary>
    public static EngineException WriteFailure(string path, Exception e) =>
        Array.IndexOf(DiskFullErrors, e.HResult) >= 0
            ? new EngineException($"cannot write {path}: the disk is full", e)
            : new EngineException($"cannot write {path}: {e.Message.ReplaceLineEndings(" ")}", e);

    /// <summary>Room to ask for before writing a small summary (--json): enough to notice a full disk before the work, not after.</summary>
    public const long SummaryBytes = 64 << 10;

    private static void WriteDirectly(string path, FileKind kind, Action<Stream> write, int? stopSignalsBefore)
    {
        try
        {
            using Stream stream = kind == FileKind.Fifo && !OperatingSystem.IsWindows()
                ? FifoStream.Open(path, () => stopSignals, stopSignalsBefore)
                : new FileStream(path, FileMode.Open, FileAccess.Write, FileShare.ReadWrite, bufferSize: 0);
            write(stream);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw WriteFailure(path, e);
        }
    }

    /// <summary>A file inside a folder already found writable: nothing there, or a file that may be replaced.</summary>
    private static void RequireReplaceableFile(string path, string option)
    {
        var status = FileKinds.Status(path);
        if (status.Kind != FileKind.Regular && status.Kind != FileKind.Missing)
            throw new UserInputException($"{option} {path}: is {FileKinds.Describe(status.Kind)}; give a file name".TrimStart());
        RequireReplaceable(path, status, option);
    }

    /// <summary>
    /// Refuses to replace a file its owner made read-only, as <c>cp</c> does; unlike <c>cp</c>,
    /// also when running as root, who may write anything: a file nobody may write is kept.
    /// </summary>
    private static void RequireReplaceable(string path, FileStatus status, string option)
    {
        if (status.Kind != FileKind.Regular)
            return;
        bool writable = OperatingSystem.IsWindows()
            ? !File.GetAttributes(path).HasFlag(FileAttributes.ReadOnly)
            : NativeFiles.Access(path, NativeFiles.WriteAccess) == 0 && (status.Mode & WriteBits) != 0;
        if (!writable)
            throw new UserInputException($"{option} {path}: is read-only; it is not replaced (make it writable, or give another name)".TrimStart());
    }

    private const int WriteBits = 0x92;

    /// <summary>The new file takes the permission bits and, where the process may set it, the owner of the file it replaces.</summary>
    private static void KeepModeAndOwner(string temporary, FileStatus replaced)
    {
        if (replaced.Kind != FileKind.Regular || OperatingSystem.IsWindows())
            return;
        File.SetUnixFileMode(temporary, (UnixFileMode)replaced.Mode);
        var created = FileKinds.Status(temporary);
        if (created.Owner != replaced.Owner || created.Group != replaced.Group)
        {
            // Only root may give a file away; anyone else keeps their own ownership, as cp does.
            _ = NativeFiles.ChangeOwner(temporary, replaced.Owner, replaced.Group);
        }
    }

    /// <summary>The file a write to <paramref name="path"/> replaces: the final target when it is a symbolic link.</summary>
    internal static string Target(string path, string option)
    {
        var info = new FileInfo(Path.GetFullPath(path));
        try
        {
            return info.LinkTarget is null ? info.FullName : info.ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? info.FullName;
        }
        catch (IOException e)
        {
            throw new UserInputException($"{option} {path}: cannot follow the symbolic link: {e.Message}".TrimStart(), e);
        }
    }

    private static string FolderOf(string fullPath) => Path.GetDirectoryName(fullPath) ?? Path.GetPathRoot(fullPath) ?? ".";

    /// <summary>Creates and removes an empty file in <paramref name="folder"/>: the one test of writability that also covers read-only mounts.</summary>
    private static void ProbeWritable(string folder, string what)
    {
        string probe = Path.Combine(folder, TemporaryName("write-test", Environment.ProcessId));
        try
        {
            using (new FileStream(probe, FileMode.Create, FileAccess.Write, FileShare.None))
            {
            }

            File.Delete(probe);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            TryDelete(probe);
            if (Array.IndexOf(DiskFullErrors, e.HResult) >= 0)
                throw new EngineException($"{what}: the disk is full", e);
            throw new UserInputException($"{what}: cannot write in {folder}: {e.Message.ReplaceLineEndings(" ")}", e);
        }
    }

    private static void RequireFreeSpace(string folder, long bytesNeeded, string what)
    {
        if (bytesNeeded <= 0)
            return;
        long free;
        try
        {
            free = new DriveInfo(folder).AvailableFreeSpace;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
        {
            return;
        }

        if (free < bytesNeeded)
            throw new EngineException($"{what}: the disk is full: {bytesNeeded:N0} bytes are needed, {free:N0} are free in {folder}");
    }

    /// <summary>Temporary files of <paramref name="name"/> left by processes that were killed while writing.</summary>
    private static void RemoveOrphans(string folder, string name)
    {
        string prefix = $".{TemporaryStem(name)}.";
        IEnumerable<string> candidates;
        try
        {
            candidates = Directory.EnumerateFiles(folder, $"{prefix}*.tmp").ToList();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return;
        }

        foreach (string candidate in candidates)
        {
            string middle = Path.GetFileName(candidate)[prefix.Length..^".tmp".Length];
            if (int.TryParse(middle, NumberStyles.None, CultureInfo.InvariantCulture, out int pid) && pid != Environment.ProcessId && !IsAlive(pid))
                TryDelete(candidate);
        }
    }

    private static bool IsAlive(int pid)
    {
        try
        {
            using var process = Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException)
        {
            return false;
        }
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Named after this process, so the next save by another process removes it.
        }
    }
}
