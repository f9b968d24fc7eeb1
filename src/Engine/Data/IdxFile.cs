using System.Buffers.Binary;
using System.IO.Compression;
using MnistGpu.Engine.IO;

namespace MnistGpu.Engine.Data;

/// <summary>
/// An unsigned-byte array in LeCun's IDX format: magic 00 00 08 rank, then rank big-endian int32
/// dimensions, then the bytes. Read from a raw file or its gzip-compressed form.
/// </summary>
internal sealed class IdxFile
{
    private const byte UnsignedByteType = 0x08;

    private IdxFile(string name, int[] dimensions, byte[] data)
    {
        Name = name;
        Dimensions = dimensions;
        Data = data;
    }

    /// <summary>The path, or the name it was read under, for messages.</summary>
    public string Name { get; }

    public IReadOnlyList<int> Dimensions { get; }

    public byte[] Data { get; }

    /// <summary>
    /// Reads an IDX file holding an array of <paramref name="expectedRank"/> dimensions and checks
    /// that its length matches them exactly. The length is checked against the header before the
    /// data array is allocated — the file's size for a raw file, the size gzip records in its
    /// trailer for a compressed one — so no file can make this allocate more than its stated
    /// dimensions need, and those need at least as many bytes as the file claims to hold. The
    /// data is streamed into one array, so a 47 MB file costs 47 MB.
    /// </summary>
    /// <exception cref="UserInputException">The file is missing, not a regular file, unreadable or malformed.</exception>
    public static IdxFile Read(string path, int expectedRank)
    {
        using var file = InputFile.OpenRead(path, "an IDX file", out long length);
        return Read(path, file, length, expectedRank);
    }

    /// <summary>The same for a seekable stream of <paramref name="length"/> bytes, named <paramref name="name"/> in errors.</summary>
    public static IdxFile Read(string name, Stream seekable, long length, int expectedRank)
    {
        try
        {
            if (!IsGzip(seekable))
                return Read(name, seekable, expectedRank, length, compressed: false);
            long recorded = RecordedUncompressedSize(seekable, length);
            using var gzip = new GZipStream(seekable, CompressionMode.Decompress, leaveOpen: true);
            return Read(name, gzip, expectedRank, recorded, compressed: true);
        }
        catch (InvalidDataException e)
        {
            throw new UserInputException($"{name}: not a valid gzip file ({e.Message})", e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UserInputException($"{name}: cannot read ({e.Message})", e);
        }
    }

    /// <param name="announced">What the container says the IDX bytes total: the file length, or gzip's ISIZE (the length modulo 2³²).</param>
    private static IdxFile Read(string path, Stream stream, int expectedRank, long announced, bool compressed)
    {
        Span<byte> magic = stackalloc byte[4];
        int got = stream.ReadAtLeast(magic, 4, throwOnEndOfStream: false);
        if (got < 4)
            throw Malformed(path, $"{got} bytes is too short for an IDX header");
        if (magic[0] != 0 || magic[1] != 0)
            throw Malformed(path, $"bad magic number 0x{magic[0]:x2}{magic[1]:x2}{magic[2]:x2}{magic[3]:x2} (expected 0x000008{expectedRank:x2})");
        if (magic[2] != UnsignedByteType)
            throw Malformed(path, $"element type 0x{magic[2]:x2} is not unsigned byte (0x08)");
        int rank = magic[3];
        if (rank != expectedRank)
            throw Malformed(path, $"rank {rank}, expected {expectedRank}");

        int headerLength = 4 + 4 * rank;
        var header = new byte[4 * rank];
        got = stream.ReadAtLeast(header, header.Length, throwOnEndOfStream: false);
        if (got < header.Length)
            throw Malformed(path, $"truncated header: {4 + got} bytes, expected {headerLength}");

        var dimensions = new int[rank];
        long elements = 1;
        for (int i = 0; i < rank; i++)
        {
            int dimension = BinaryPrimitives.ReadInt32BigEndian(header.AsSpan(4 * i, 4));
            if (dimension <= 0)
                throw Malformed(path, $"dimension {i} is {dimension}");
            dimensions[i] = dimension;
            // Clamped so that no number of int dimensions overflows; anything this large is refused below.
            elements = Math.Min(elements * dimension, long.MaxValue / int.MaxValue);
        }

        string shape = string.Join('x', dimensions);
        if (elements > Array.MaxLength)
            throw Malformed(path, $"dimensions {shape} are too large");
        long expectedLength = headerLength + elements;
        if (compressed ? (expectedLength & uint.MaxValue) != announced : expectedLength != announced)
        {
            string what = compressed ? "gzip records" : announced < expectedLength ? "truncated: the file is" : "trailing bytes: the file is";
            throw Malformed(path, $"{what} {announced:N0} bytes, but dimensions {shape} need {expectedLength:N0}");
        }

        var data = new byte[elements];
        got = stream.ReadAtLeast(data, data.Length, throwOnEndOfStream: false);
        long trailing = got == data.Length ? CountRest(stream) : 0;
        if (got < data.Length || trailing > 0)
        {
            string what = got < data.Length ? "truncated" : "trailing bytes";
            throw Malformed(path, $"{what}: {headerLength + got + trailing} bytes, but dimensions {shape} need {expectedLength}");
        }

        return new IdxFile(path, dimensions, data);
    }

    /// <summary>gzip's ISIZE: the uncompressed length modulo 2³², in the last four bytes. The stream is rewound.</summary>
    private static long RecordedUncompressedSize(Stream file, long length)
    {
        if (length < 18)
            throw new InvalidDataException($"{length} bytes is too short for gzip");
        Span<byte> trailer = stackalloc byte[4];
        file.Position = length - 4;
        file.ReadExactly(trailer);
        file.Position = 0;
        return BinaryPrimitives.ReadUInt32LittleEndian(trailer);
    }

    private static long CountRest(Stream stream)
    {
        var buffer = new byte[4096];
        long count = 0;
        int read;
        while ((read = stream.Read(buffer)) > 0)
            count += read;
        return count;
    }

    private static UserInputException Malformed(string path, string problem) =>
        new($"{path}: not an IDX file: {problem}");

    /// <summary>True when the stream starts with gzip's magic; the stream is rewound either way.</summary>
    private static bool IsGzip(Stream file)
    {
        Span<byte> magic = stackalloc byte[2];
        bool gzip = file.ReadAtLeast(magic, 2, throwOnEndOfStream: false) == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
        file.Position = 0;
        return gzip;
    }
}
