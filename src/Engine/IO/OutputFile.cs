using System.Diagnostics;
using System.Globalization;

namespace MnistGpu.Engine.IO;

/// <summary>
/// The one rule for every file the program writes (--save, --json, --onnx, bench --json, the
/// previews). A regular file, or a new path, is written atomically: a temporary file in the
/// folder of the final target (through any symbolic links, which stay links), flushed to disk,
/// then renamed over the target, so readers see the old file or the new one, never a part. A
/// character device or FIFO (/dev/null, /dev/stdout, a pipe) is written to directly and never
/// replaced. <see cref="Check"/> finds every problem a user can fix before any work starts;
/// what fails while writing (a full disk, an I/O error) is the environment's failure.
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
        var kind = FileKinds.Of(path);
        if (kind is FileKind.CharacterDevice or FileKind.Fifo)
            return;
        if (kind != FileKind.Regular && kind != FileKind.Missing)
            throw new UserInputException($"{option} {path}: is {FileKinds.Describe(kind)}; give a file name");

        string folder = FolderOf(Target(path, option));
        var folderKind = FileKinds.Of(folder);
        if (folderKind != FileKind.Directory)
            throw new UserInputException($"{option} {path}: folder {folder} {(folderKind == FileKind.Missing ? "does not exist" : "is not a folder")}");
        ProbeWritable(folder, $"{option} {path}");
        RequireFreeSpace(folder, bytesNeeded, $"{option} {path}");
    }

    /// <summary>
    /// As <see cref="Check"/> for a folder the program will fill (--previews): an existing folder
    /// must be writable, a new one must have a writable parent. Nothing is created yet, so a run
    /// that fails leaves nothing behind.
    /// </summary>
    /// <exception cref="UserInputException">The folder cannot be created or written.</exception>
    public static void CheckFolder(string path, string option)
    {
        string full = Path.GetFullPath(path);
        var kind = FileKinds.Of(full);
        if (kind == FileKind.Directory)
        {
            ProbeWritable(full, $"{option} {path}");
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
    /// <exception cref="UserInputException">The path is a folder or another kind of file that is never written.</exception>
    /// <exception cref="EngineException">Writing failed: disk full, I/O error, permission lost. The temporary file is gone.</exception>
    public static void Write(string path, ReadOnlySpan<byte> bytes)
    {
        var kind = FileKinds.Of(path);
        if (kind is FileKind.CharacterDevice or FileKind.Fifo)
        {
            WriteDirectly(path, bytes);
            return;
        }

        if (kind != FileKind.Regular && kind != FileKind.Missing)
            throw new UserInputException($"{path}: is {FileKinds.Describe(kind)}; give a file name");

        string target = Target(path, "");
        string folder = FolderOf(target);
        string name = Path.GetFileName(target);
        RemoveOrphans(folder, name);
        string temporary = Path.Combine(folder, TemporaryName(name, Environment.ProcessId));
        try
        {
            using (var file = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None))
            {
                file.Write(bytes);
                file.Flush(flushToDisk: true);
            }

            File.Move(temporary, target, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            TryDelete(temporary);
            throw WriteFailure(path, e);
        }
    }

    /// <summary>The temporary file a write of <paramref name="name"/> by process <paramref name="processId"/> goes through.</summary>
    internal static string TemporaryName(string name, int processId) =>
        string.Create(CultureInfo.InvariantCulture, $".{name}.{processId}.tmp");

    /// <summary>One line for a write that failed; a full disk is named as such.</summary>
    public static EngineException WriteFailure(string path, Exception e) =>
        Array.IndexOf(DiskFullErrors, e.HResult) >= 0
            ? new EngineException($"cannot write {path}: the disk is full", e)
            : new EngineException($"cannot write {path}: {e.Message.ReplaceLineEndings(" ")}", e);

    /// <summary>Room to ask for before writing a small summary (--json): enough to notice a full disk before the work, not after.</summary>
    public const long SummaryBytes = 64 << 10;

    private static void WriteDirectly(string path, ReadOnlySpan<byte> bytes)
    {
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Write, FileShare.ReadWrite, bufferSize: 0);
            stream.Write(bytes);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw WriteFailure(path, e);
        }
    }

    /// <summary>The file a write to <paramref name="path"/> replaces: the final target when it is a symbolic link.</summary>
    private static string Target(string path, string option)
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
        string prefix = $".{name}.";
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
