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
    /// trailer (or, for a file of several gzip members, the bytes they decompress to) for a
    /// compressed one — so no file can make this allocate more than it holds. The data is
    /// streamed into one array, so a 47 MB file costs 47 MB.
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
            {
                var raw = ReadHeader(name, seekable, expectedRank);
                if (raw.Length != length)
                    throw Malformed(name, $"{(length < raw.Length ? "truncated" : "trailing bytes")}: the file is {length:N0} bytes, but dimensions {raw.Shape} need {raw.Length:N0}");
                return ReadData(name, seekable, raw);
            }

            IdxHeader header;
            using (var probe = Decompress(seekable))
                header = ReadHeader(name, probe, expectedRank);
            long holds = DecompressedLength(seekable, length, header.Length);
            if (holds != header.Length)
                throw Malformed(name, $"the gzip data is {(holds > header.Length ? "more than " : "")}{Math.Min(holds, header.Length):N0} bytes, but dimensions {header.Shape} need {header.Length:N0}");
            using var gzip = Decompress(seekable);
            ReadHeader(name, gzip, expectedRank);
            return ReadData(name, gzip, header);
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

    /// <summary>The dimensions an IDX header declares, and the bytes (header included) they need.</summary>
    private sealed record IdxHeader(int[] Dimensions, int HeaderLength, long Elements)
    {
        public long Length => HeaderLength + Elements;

        public string Shape => string.Join('x', Dimensions);
    }

    private static IdxHeader ReadHeader(string path, Stream stream, int expectedRank)
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

        var declared = new IdxHeader(dimensions, headerLength, elements);
        if (elements > Array.MaxLength)
            throw Malformed(path, $"dimensions {declared.Shape} are too large");
        return declared;
    }

    /// <summary>The data after the header, which the caller has checked the container holds.</summary>
    private static IdxFile ReadData(string path, Stream stream, IdxHeader header)
    {
        var data = new byte[header.Elements];
        int got = stream.ReadAtLeast(data, data.Length, throwOnEndOfStream: false);
        long trailing = got == data.Length ? CountRest(stream) : 0;
        if (got < data.Length || trailing > 0)
        {
            string what = got < data.Length ? "truncated" : "trailing bytes";
            throw Malformed(path, $"{what}: {header.HeaderLength + got + trailing} bytes, but dimensions {header.Shape} need {header.Length}");
        }

        return new IdxFile(path, header.Dimensions, data);
    }

    /// <summary>A decompressor over the whole of <paramref name="file"/>, from its start.</summary>
    private static GZipStream Decompress(Stream file)
    {
        file.Position = 0;
        return new GZipStream(file, CompressionMode.Decompress, leaveOpen: true);
    }

    /// <summary>
    /// The bytes the gzip file decompresses to, or <paramref name="needed"/> + 1 when it holds more.
    /// A file of one member records its length (modulo 2³²) in its last four bytes, which settles
    /// it at once; a file of several (as <c>cat a.gz b.gz</c> makes) records only its last
    /// member's, so then the data is decompressed and counted, never stored.
    /// </summary>
    private static long DecompressedLength(Stream file, long length, long needed)
    {
        if (length < 18)
            throw new InvalidDataException($"{length} bytes is too short for gzip");
        Span<byte> trailer = stackalloc byte[4];
        file.Position = length - 4;
        file.ReadExactly(trailer);
        if (BinaryPrimitives.ReadUInt32LittleEndian(trailer) == (needed & uint.MaxValue))
            return needed;
        using var gzip = Decompress(file);
        var buffer = new byte[1 << 16];
        long count = 0;
        int read;
        while (count <= needed && (read = gzip.Read(buffer)) > 0)
            count += read;
        return Math.Min(count, needed + 1);
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
