using System.Buffers.Binary;
using System.IO.Compression;
using System.IO.Hashing;
using SixLabors.ImageSharp.Formats;
using SixLabors.ImageSharp.Formats.Bmp;
using SixLabors.ImageSharp.Formats.Gif;
using SixLabors.ImageSharp.Formats.Jpeg;
using SixLabors.ImageSharp.Formats.Png;

namespace MnistGpu.Reports.Imaging;

/// <summary>
/// Checks that a picture file is whole before it is decoded. ImageSharp, like most lenient
/// decoders, fills in what a truncated file lacks and reports success, so a picture cut in half
/// would be read as a digit; libpng, libjpeg and ImageMagick refuse such files, and so does this.
/// Each check walks the format's own structure: PNG chunks with their CRCs and the complete
/// image data, JPEG segments up to the end-of-image marker, GIF blocks up to the trailer, and
/// the BMP pixel array the header describes.
/// </summary>
internal static class PictureIntegrity
{
    /// <summary>Null when the file is whole; otherwise what is wrong with it.</summary>
    public static string? Problem(ReadOnlySpan<byte> file, IImageFormat format) => format switch
    {
        PngFormat => PngProblem(file),
        JpegFormat => JpegProblem(file),
        GifFormat => GifProblem(file),
        BmpFormat => BmpProblem(file),
        _ => null,
    };

    private static string? PngProblem(ReadOnlySpan<byte> file)
    {
        const int SignatureLength = 8;
        int position = SignatureLength;
        using var imageData = new MemoryStream();
        (long Width, long Height, int BitDepth, int ColourType, bool Interlaced)? header = null;
        while (true)
        {
            if (file.Length - position < 12)
                return "it ends before its IEND chunk (truncated)";
            uint length = BinaryPrimitives.ReadUInt32BigEndian(file[position..]);
            if (length > file.Length - position - 12)
                return "a chunk runs past the end of the file (truncated)";
            var type = file.Slice(position + 4, 4);
            var data = file.Slice(position + 8, (int)length);
            uint crc = BinaryPrimitives.ReadUInt32BigEndian(file[(position + 8 + (int)length)..]);
            if (Crc32.HashToUInt32(file.Slice(position + 4, 4 + (int)length)) != crc)
                return $"the CRC of its {ChunkName(type)} chunk is wrong (damaged)";
            position += 12 + (int)length;

            if (type.SequenceEqual("IHDR"u8) && length >= 13)
                header = (BinaryPrimitives.ReadUInt32BigEndian(data), BinaryPrimitives.ReadUInt32BigEndian(data[4..]), data[8], data[9], data[12] != 0);
            else if (type.SequenceEqual("IDAT"u8))
                imageData.Write(data);
            else if (type.SequenceEqual("IEND"u8))
                break;
        }

        if (header is not { } h)
            return "it has no IHDR chunk";
        long expected = PngRawLength(h.Width, h.Height, PngBitsPerPixel(h.ColourType, h.BitDepth), h.Interlaced);
        imageData.Position = 0;
        long inflated = InflatedLength(imageData, expected);
        return inflated < expected ? $"its image data ends early ({inflated:N0} of {expected:N0} bytes)" : null;
    }

    /// <summary>A chunk type as its four letters, any other byte as \xNN, so that a damaged name cannot break the message's one line.</summary>
    private static string ChunkName(ReadOnlySpan<byte> type)
    {
        var name = new System.Text.StringBuilder();
        foreach (byte b in type)
            name.Append(char.IsAsciiLetter((char)b) ? ((char)b).ToString() : $"\\x{b:x2}");
        return name.ToString();
    }

    private static int PngBitsPerPixel(int colourType, int bitDepth) => bitDepth * colourType switch
    {
        2 => 3,
        4 => 2,
        6 => 4,
        _ => 1,
    };

    /// <summary>Filtered scanline bytes of the whole image: one filter byte per row, for each of Adam7's seven passes when interlaced.</summary>
    private static long PngRawLength(long width, long height, int bitsPerPixel, bool interlaced)
    {
        static long Rows(long w, long h, int bits) => w == 0 || h == 0 ? 0 : h * (1 + (w * bits + 7) / 8);
        if (!interlaced)
            return Rows(width, height, bitsPerPixel);
        ReadOnlySpan<(int X0, int Y0, int Dx, int Dy)> passes = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)];
        long total = 0;
        foreach (var pass in passes)
            total += Rows((width - pass.X0 + pass.Dx - 1) / pass.Dx, (height - pass.Y0 + pass.Dy - 1) / pass.Dy, bitsPerPixel);
        return total;
    }

    /// <summary>How many bytes the zlib stream inflates to, counting no further than <paramref name="needed"/>; a damaged stream counts as what it gave before failing.</summary>
    private static long InflatedLength(Stream compressed, long needed)
    {
        var buffer = new byte[1 << 16];
        long total = 0;
        try
        {
            using var zlib = new ZLibStream(compressed, CompressionMode.Decompress);
            int read;
            while (total < needed && (read = zlib.Read(buffer)) > 0)
                total += read;
        }
        catch (InvalidDataException)
        {
        }

        return total;
    }

    private static string? JpegProblem(ReadOnlySpan<byte> file)
    {
        int position = 2;
        while (true)
        {
            // Markers are 0xFF then a code; extra 0xFF bytes before the code are fill.
            if (position >= file.Length || file[position] != 0xFF)
                return position >= file.Length ? "it has no end-of-image marker (truncated)" : "its segments are damaged";
            while (position < file.Length && file[position] == 0xFF)
                position++;
            if (position >= file.Length)
                return "it has no end-of-image marker (truncated)";
            byte marker = file[position++];
            if (marker == 0xD9)
                return null;
            if (marker is 0x01 or (>= 0xD0 and <= 0xD8))
                continue;
            if (file.Length - position < 2)
                return "it has no end-of-image marker (truncated)";
            int length = BinaryPrimitives.ReadUInt16BigEndian(file[position..]);
            if (length < 2 || length > file.Length - position)
                return "a segment runs past the end of the file (truncated)";
            position += length;
            if (marker != 0xDA)
                continue;

            // Entropy-coded data follows a start of scan: it ends at the first 0xFF that is
            // neither a stuffed 0xFF00 nor a restart marker.
            while (position < file.Length - 1 && !(file[position] == 0xFF && file[position + 1] != 0x00 && file[position + 1] is < 0xD0 or > 0xD7))
                position++;
            if (position >= file.Length - 1)
                return "its image data ends without an end-of-image marker (truncated)";
        }
    }

    private static string? GifProblem(ReadOnlySpan<byte> file)
    {
        const string CutShort = "it is cut short before its trailer (truncated)";
        if (file.Length < 13)
            return CutShort;
        int position = 13 + ColourTableLength(file[10]);
        while (position < file.Length)
        {
            byte block = file[position++];
            switch (block)
            {
                case 0x3B:
                    return null;
                case 0x21:
                    position++;
                    break;
                case 0x2C:
                    if (file.Length - position < 10)
                        return CutShort;
                    position += 9 + ColourTableLength(file[position + 8]) + 1;
                    break;
                default:
                    return $"it has an unknown block 0x{block:x2} (damaged)";
            }

            // Both extensions and images end in data sub-blocks: a length byte each, 0 last.
            while (position < file.Length && file[position] != 0)
                position += file[position] + 1;
            position++;
        }

        return CutShort;
    }

    private static int ColourTableLength(byte packed) => (packed & 0x80) == 0 ? 0 : 3 << ((packed & 0x07) + 1);

    /// <summary>A palette indexes at most 8 bits of colour.</summary>
    private const int MaxPaletteColours = 256;

    private static string? BmpProblem(ReadOnlySpan<byte> file)
    {
        if (file.Length < 26)
            return "its header is truncated";
        long pixelOffset = BinaryPrimitives.ReadUInt32LittleEndian(file[10..]);
        uint headerSize = BinaryPrimitives.ReadUInt32LittleEndian(file[14..]);
        long width, height;
        int bits;
        uint compression = 0;
        long coloursUsed = 0;
        if (headerSize == 12)
        {
            width = BinaryPrimitives.ReadUInt16LittleEndian(file[18..]);
            height = BinaryPrimitives.ReadUInt16LittleEndian(file[20..]);
            bits = BinaryPrimitives.ReadUInt16LittleEndian(file[24..]);
        }
        else
        {
            if (file.Length < 34)
                return "its header is truncated";
            width = BinaryPrimitives.ReadInt32LittleEndian(file[18..]);
            height = Math.Abs((long)BinaryPrimitives.ReadInt32LittleEndian(file[22..]));
            bits = BinaryPrimitives.ReadUInt16LittleEndian(file[28..]);
            compression = BinaryPrimitives.ReadUInt32LittleEndian(file[30..]);
            if (file.Length >= 50)
                coloursUsed = BinaryPrimitives.ReadUInt32LittleEndian(file[46..]);
        }

        // Decoders divide by the bit count and allocate the palette the header names.
        if (bits is not (1 or 2 or 4 or 8 or 16 or 24 or 32))
            return $"its header says {bits} bits per pixel (1, 2, 4, 8, 16, 24 or 32 expected)";
        if (coloursUsed > MaxPaletteColours)
            return $"its header names a palette of {coloursUsed:N0} colours (at most {MaxPaletteColours})";

        // Uncompressed and bit-field pixel arrays have a size fixed by the header; run-length
        // and embedded JPEG/PNG ones only need to start inside the file.
        bool fixedSize = compression is 0 or 3 or 6;
        long needed = fixedSize ? pixelOffset + (width * bits + 31) / 32 * 4 * height : pixelOffset + 1;
        return needed > file.Length ? $"its pixel data ends early ({file.Length:N0} of {needed:N0} bytes)" : null;
    }
}
