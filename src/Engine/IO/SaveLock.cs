using System.Globalization;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace MnistGpu.Engine.IO;

/// <summary>
/// Keeps two trainings from saving to one checkpoint, where the last rename would silently win:
/// while a run saves to PATH it holds an exclusive advisory lock (flock) on "PATH.lock", which
/// names its process. A second run finds the lock held and is refused before any work. The lock
/// belongs to the open file, so the operating system releases it when its process ends, however
/// it ends: a lock file left by a killed run blocks nobody and is taken over. Released (and the
/// file removed) on <see cref="Dispose"/>. Devices and FIFOs (--save /dev/null) take no lock.
/// </summary>
public sealed class SaveLock : IDisposable
{
    /// <summary>Tries at taking the lock when another run removes the file between our open and our lock.</summary>
    private const int Attempts = 8;

    private readonly string path;
    private readonly FileStream file;

    private SaveLock(string path, FileStream file)
    {
        this.path = path;
        this.file = file;
    }

    /// <summary>The lock file for <paramref name="checkpointPath"/>: beside the file a save replaces (through symbolic links).</summary>
    public static string PathFor(string checkpointPath) => OutputFile.Target(checkpointPath, "") + ".lock";

    /// <summary>Takes the lock for saving to <paramref name="checkpointPath"/>, or null where none is needed (a device or FIFO).</summary>
    /// <param name="option">How the user gave the path, for the message: "--save".</param>
    /// <exception cref="UserInputException">Another run holds the lock, or the lock file cannot be made.</exception>
    public static SaveLock? Take(string checkpointPath, string option)
    {
        if (FileKinds.Of(checkpointPath) is FileKind.CharacterDevice or FileKind.Fifo)
            return null;
        string lockPath = PathFor(checkpointPath);
        for (int attempt = 0; attempt < Attempts; attempt++)
        {
            var file = Open(lockPath, option, checkpointPath);
            if (!TryLock(file))
            {
                string holder = ReadHolder(file);
                file.Dispose();
                throw new UserInputException($"{option} {checkpointPath}: another training{holder} is saving to this checkpoint (its lock is {lockPath}); wait for it to end, or save to another file");
            }

            // Locked: but if the holder before us removed the file between our open and our lock,
            // what we locked is no longer at that path, and a third run could lock the new file.
            if (OperatingSystem.IsWindows() || FileKinds.Status(file.SafeFileHandle).IsSameFile(FileKinds.Status(lockPath)))
            {
                file.SetLength(0);
                file.Write(System.Text.Encoding.ASCII.GetBytes(string.Create(CultureInfo.InvariantCulture, $"{Environment.ProcessId}\n")));
                file.Flush();
                return new SaveLock(lockPath, file);
            }

            file.Dispose();
        }

        throw new UserInputException($"{option} {checkpointPath}: its lock file {lockPath} keeps being replaced; another training is starting to save to this checkpoint");
    }

    /// <summary>Removes the lock file, then releases the lock: in that order, so no run can lock a file that is about to go.</summary>
    public void Dispose()
    {
        try
        {
            if (!OperatingSystem.IsWindows())
                File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The lock dies with the file's handle below; a file left behind blocks nobody.
        }

        file.Dispose();
    }

    private static FileStream Open(string lockPath, string option, string checkpointPath)
    {
        try
        {
            if (OperatingSystem.IsWindows())
                return new FileStream(lockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, 1, FileOptions.DeleteOnClose);
            int descriptor = NativeFiles.Open(lockPath, NativeFiles.ReadWriteCreate | NativeFiles.CloseOnExec, 0x1B6);
            if (descriptor < 0)
                throw new IOException(Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError()));
            return new FileStream(new SafeFileHandle(descriptor, ownsHandle: true), FileAccess.ReadWrite, bufferSize: 0);
        }
        catch (IOException e) when (OperatingSystem.IsWindows() && e.HResult == SharingViolation)
        {
            throw new UserInputException($"{option} {checkpointPath}: another training is saving to this checkpoint (its lock is {lockPath}); wait for it to end, or save to another file", e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UserInputException($"{option} {checkpointPath}: cannot create its lock file {lockPath}: {e.Message.ReplaceLineEndings(" ")}", e);
        }
    }

    /// <summary>Windows' ERROR_SHARING_VIOLATION as an HRESULT: the file is open elsewhere without sharing.</summary>
    private const int SharingViolation = unchecked((int)0x80070020);

    /// <summary>An exclusive lock on the open file, or false when another process holds one; Windows' unshared open is the lock there.</summary>
    private static bool TryLock(FileStream file) =>
        OperatingSystem.IsWindows() || NativeFiles.Lock((int)file.SafeFileHandle.DangerousGetHandle(), NativeFiles.ExclusiveLockNow) == 0;

    /// <summary>" (process N)" from the lock file, as its holder wrote it; empty when it says nothing readable.</summary>
    private static string ReadHolder(FileStream file)
    {
        try
        {
            var bytes = new byte[16];
            int read = file.Read(bytes);
            return int.TryParse(System.Text.Encoding.ASCII.GetString(bytes, 0, read).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out int pid) ? $" (process {pid})" : "";
        }
        catch (IOException)
        {
            return "";
        }
    }
}
