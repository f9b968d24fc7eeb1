namespace MnistGpu.Engine.IO;

/// <summary>Writes a whole file so that readers see either the old file or the new one, never a part.</summary>
public static class AtomicFile
{
    /// <summary>
    /// Writes to a temporary file in the same folder, flushes it to disk, then renames it over
    /// <paramref name="path"/> (a rename within a folder is atomic).
    /// </summary>
    /// <exception cref="UserInputException">The folder cannot be written.</exception>
    public static void Write(string path, ReadOnlySpan<byte> bytes)
    {
        string full = Path.GetFullPath(path);
        string temporary = Path.Combine(Path.GetDirectoryName(full)!, $".{Path.GetFileName(full)}.{Environment.ProcessId}.tmp");
        try
        {
            using (var file = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None))
            {
                file.Write(bytes);
                file.Flush(flushToDisk: true);
            }

            File.Move(temporary, full, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            TryDelete(temporary);
            throw new UserInputException($"cannot write {path}: {e.Message}", e);
        }
    }

    /// <summary>Fails before any work when <paramref name="path"/>'s folder does not exist.</summary>
    /// <exception cref="UserInputException">The folder is missing.</exception>
    public static void RequireFolder(string path, string what)
    {
        string folder = Path.GetDirectoryName(Path.GetFullPath(path)) ?? ".";
        if (!Directory.Exists(folder))
            throw new UserInputException($"{what} {path}: folder {folder} does not exist");
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The temporary file is hidden and named after this process; leaving it is harmless.
        }
    }
}
