namespace MnistGpu.Engine.IO;

/// <summary>
/// The one way the engine opens what a user names as input (IDX files, checkpoints, pictures):
/// only a regular file, or a symbolic link to one, is opened. A FIFO would block the open call
/// forever and a device such as /dev/zero never ends, so both are refused before opening.
/// </summary>
public static class InputFile
{
    /// <summary>The length of the regular file at <paramref name="path"/>.</summary>
    /// <param name="what">What the file should be, for the message: "a checkpoint", "an image".</param>
    /// <exception cref="UserInputException">Missing, or not a regular file.</exception>
    public static long RequireRegular(string path, string what)
    {
        var kind = FileKinds.Of(path);
        if (kind == FileKind.Missing)
            throw new UserInputException($"{path}: no such file");
        if (kind != FileKind.Regular)
            throw new UserInputException($"{path}: is {FileKinds.Describe(kind)}, not a regular file ({what} expected)");
        try
        {
            return new FileInfo(path).Length;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UserInputException($"{path}: cannot read: {e.Message}", e);
        }
    }

    /// <summary>Opens the regular file at <paramref name="path"/> for reading; <paramref name="length"/> is its size.</summary>
    /// <exception cref="UserInputException">Missing, not a regular file, or unreadable.</exception>
    public static FileStream OpenRead(string path, string what, out long length)
    {
        length = RequireRegular(path, what);
        try
        {
            return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1 << 16);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UserInputException($"{path}: cannot read: {e.Message}", e);
        }
    }

    /// <summary>The whole of a regular file no longer than <paramref name="maxBytes"/>.</summary>
    /// <exception cref="UserInputException">Missing, not a regular file, empty, too large or unreadable.</exception>
    public static byte[] ReadAll(string path, string what, long maxBytes)
    {
        using var stream = OpenRead(path, what, out long length);
        if (length == 0)
            throw new UserInputException($"{path}: the file is empty");
        if (length > maxBytes)
            throw new UserInputException($"{path}: {length:N0} bytes is more than the {maxBytes:N0}-byte limit for {what}");
        var bytes = new byte[length];
        try
        {
            stream.ReadExactly(bytes);
        }
        catch (Exception e) when (e is IOException or EndOfStreamException)
        {
            throw new UserInputException($"{path}: cannot read: {e.Message}", e);
        }

        return bytes;
    }
}
