using System.Buffers.Binary;
using System.IO.Compression;

namespace MnistGpu.Engine.Data;

/// <summary>
/// An unsigned-byte array in LeCun's IDX format: magic 00 00 08 rank, then rank big-endian int32
/// dimensions, then the bytes. Read from a raw file or its gzip-compressed form.
/// </summary>
internal sealed class IdxFile
{
    private const byte UnsignedByteType = 0x08;

    private IdxFile(int[] dimensions, byte[] data)
    {
        Dimensions = dimensions;
        Data = data;
    }

    public IReadOnlyList<int> Dimensions { get; }

    public byte[] Data { get; }

    /// <summary>
    /// Reads an IDX file holding an array of <paramref name="expectedRank"/> dimensions and checks
    /// that its length matches them exactly.
    /// </summary>
    /// <exception cref="UserInputException">The file is missing, unreadable or malformed.</exception>
    public static IdxFile Read(string path, int expectedRank)
    {
        byte[] bytes;
        try
        {
            bytes = IsGzip(path) ? Gunzip(path) : File.ReadAllBytes(path);
        }
        catch (InvalidDataException e)
        {
            throw new UserInputException($"{path}: not a valid gzip file ({e.Message})", e);
        }
        catch (IOException e)
        {
            throw new UserInputException($"{path}: cannot read ({e.Message})", e);
        }
        catch (UnauthorizedAccessException e)
        {
            throw new UserInputException($"{path}: cannot read ({e.Message})", e);
        }

        return Parse(path, bytes, expectedRank);
    }

    internal static IdxFile Parse(string path, ReadOnlySpan<byte> bytes, int expectedRank)
    {
        if (bytes.Length < 4)
            throw Malformed(path, $"{bytes.Length} bytes is too short for an IDX header");
        if (bytes[0] != 0 || bytes[1] != 0)
            throw Malformed(path, $"bad magic number 0x{bytes[0]:x2}{bytes[1]:x2}{bytes[2]:x2}{bytes[3]:x2} (expected 0x000008{expectedRank:x2})");
        if (bytes[2] != UnsignedByteType)
            throw Malformed(path, $"element type 0x{bytes[2]:x2} is not unsigned byte (0x08)");
        int rank = bytes[3];
        if (rank != expectedRank)
            throw Malformed(path, $"rank {rank}, expected {expectedRank}");

        int headerLength = 4 + 4 * rank;
        if (bytes.Length < headerLength)
            throw Malformed(path, $"truncated header: {bytes.Length} bytes, expected {headerLength}");

        var dimensions = new int[rank];
        long elements = 1;
        for (int i = 0; i < rank; i++)
        {
            int dimension = BinaryPrimitives.ReadInt32BigEndian(bytes.Slice(4 + 4 * i, 4));
            if (dimension <= 0)
                throw Malformed(path, $"dimension {i} is {dimension}");
            dimensions[i] = dimension;
            elements *= dimension;
        }

        long expectedLength = headerLength + elements;
        if (bytes.Length != expectedLength)
        {
            string what = bytes.Length < expectedLength ? "truncated" : "trailing bytes";
            throw Malformed(path, $"{what}: {bytes.Length} bytes, but dimensions {string.Join('x', dimensions)} need {expectedLength}");
        }

        return new IdxFile(dimensions, bytes[headerLength..].ToArray());
    }

    private static UserInputException Malformed(string path, string problem) =>
        new($"{path}: not an IDX file: {problem}");

    private static bool IsGzip(string path)
    {
        using var stream = File.OpenRead(path);
        Span<byte> magic = stackalloc byte[2];
        return stream.ReadAtLeast(magic, 2, throwOnEndOfStream: false) == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
    }

    private static byte[] Gunzip(string path)
    {
        using var file = File.OpenRead(path);
        using var gzip = new GZipStream(file, CompressionMode.Decompress);
        using var memory = new MemoryStream();
        gzip.CopyTo(memory);
        return memory.ToArray();
    }
}
