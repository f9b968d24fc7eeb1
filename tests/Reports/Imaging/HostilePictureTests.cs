using System.Buffers.Binary;
using System.IO.Compression;
using System.IO.Hashing;
using System.Text.Json;
using CsCheck;
using MnistGpu.Engine;
using MnistGpu.Reports.Imaging;
using MnistGpu.Tests.Support;

namespace MnistGpu.Tests.Reports.Imaging;

/// <summary>
/// Pictures made to crash or exhaust a decoder: each ends in an answer or in one line that names
/// it, within bounded memory, and never stops the other pictures of the same command.
/// </summary>
public sealed class HostilePictureTests : IDisposable
{
    private readonly TempDirectory folder = new();

    public void Dispose() => folder.Dispose();

    [Fact]
    public void Crafted_pictures_get_one_line_each_and_the_good_ones_are_answered()
    {
        string model = SmallModel.WriteTo(folder);
        string seven = DigitPictures.LightOnDark(folder, 0, "seven.png");
        var bad = new Dictionary<string, string>
        {
            [Write("bits-0.bmp", Craft("bmp-bits-0"))] = "the BMP file is damaged: its header says 0 bits per pixel (1, 2, 4, 8, 16, 24 or 32 expected)",
            [Write("colours.bmp", Craft("bmp-colours-2^31"))] = "the BMP file is damaged: its header names a palette of 2,147,483,648 colours (at most 256)",
            [Write("bits-4.bmp", Craft("bmp-bits-4"))] = "cannot decode the image: ",
        };
        string two = DigitPictures.DarkOnLight(folder, 1, "two.jpg");

        var (code, output, error) = CliRun.Run(["predict", "--model", model, "--device", "host", seven, .. bad.Keys, two]);

        Assert.Equal(2, code);
        var lines = error.TrimEnd().Split('\n');
        Assert.Equal(bad.Count, lines.Length);
        foreach (var (line, (path, reason)) in lines.Zip(bad))
        {
            Assert.True(line.StartsWith($"mnistgpu: {path}: {reason}", StringComparison.Ordinal), line);
            Assert.DoesNotContain("Exception", line);
        }

        Assert.Matches($@"seven\.png: 7 \(top 3: .*\)\n.*two\.jpg: 2 \(top 3: ", output.Replace(folder.Path, "", StringComparison.Ordinal));

        (code, output, _) = CliRun.Run(["predict", "--model", model, "--device", "host", "--json", seven, .. bad.Keys, two]);
        Assert.Equal(2, code);
        using var document = JsonDocument.Parse(output);
        var entries = document.RootElement.EnumerateArray().ToList();
        Assert.Equal(7, entries[0].GetProperty("digit").GetInt32());
        Assert.All(entries.Skip(1).Take(bad.Count), entry => Assert.True(entry.TryGetProperty("error", out _)));
        Assert.Equal(2, entries[^1].GetProperty("digit").GetInt32());
    }

    [Fact]
    public void A_png_whose_text_chunk_inflates_to_a_gigabyte_is_read_without_inflating_it()
    {
        var bomb = Craft("png-ztxt-bomb");
        Assert.InRange(bomb.Length, 1, 2 << 20);
        long before = GC.GetAllocatedBytesForCurrentThread();
        var sample = DigitImage.Decode("bomb.png", bomb);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(784, sample.Length);
        Assert.InRange(allocated, 0, 64L << 20);
    }

    /// <summary>
    /// Our own small PNG, JPEG, BMP and GIF pictures with bytes flipped, header fields set to
    /// extremes, the file cut short, or a compressed chunk inflating to 64 MiB added, for a
    /// bounded time: every case is a 28x28 sample in [0,1] or one line naming the picture, and no
    /// case allocates more than 256 MiB of managed memory (ImageSharp's own buffers are capped
    /// at 128 MiB by the decoding configuration).
    /// </summary>
    [Trait(Category.Name, Category.Slow)]
    [Fact]
    public void Fuzzed_pictures_end_in_a_sample_or_one_line()
    {
        var samples = Formats.SelectMany(format => Enumerable.Range(0, 2).Select(index =>
            File.ReadAllBytes(index == 0 ? DigitPictures.LightOnDark(folder, index, $"{index}.{format}") : DigitPictures.DarkOnLight(folder, index, $"{index}.{format}")))).ToArray();
        var edits = Gen.OneOf(
            Gen.Select(Gen.Int[0, 4095], Gen.Byte, Gen.Int[1, 16], (at, value, count) => new Edit("flip", at, value, count)),
            Gen.Select(Gen.Int[0, 63], Gen.OneOf(Extremes), (at, value) => new Edit("field", at, value, 4)),
            Gen.Int[0, 4095].Select(at => new Edit("truncate", at, 0, 0)),
            Gen.Int[0, 4095].Select(at => new Edit("inflate", at, 0, 0)));
        Gen.Select(Gen.Int[0, samples.Length - 1], edits).Sample(
            (sample, edit) =>
            {
                byte[] bytes = edit.Apply(samples[sample]);
                long before = GC.GetAllocatedBytesForCurrentThread();
                try
                {
                    var pixels = DigitImage.Decode("fuzzed", bytes);
                    Assert.Equal(784, pixels.Length);
                    Assert.All(pixels, p => Assert.InRange(p, 0f, 1f));
                }
                catch (UserInputException e)
                {
                    Assert.StartsWith("fuzzed: ", e.Message, StringComparison.Ordinal);
                    Assert.DoesNotContain('\n', e.Message);
                }

                Assert.InRange(GC.GetAllocatedBytesForCurrentThread() - before, 0, 256L << 20);
            },
            iter: 1_000_000,
            time: 30,
            threads: 1);
    }

    private static readonly string[] Formats = ["png", "jpg", "bmp", "gif"];

    private static readonly uint[] Extremes = [0u, 1u, 0xFFFFu, 0x7FFF_FFFFu, 0x8000_0000u, 0xFFFF_FFFFu];

    private string Write(string name, byte[] bytes)
    {
        string path = folder.File(name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    /// <summary>The cases found on e3691b3, each of which ended the whole command with an exception or ran out of memory.</summary>
    private byte[] Craft(string kind)
    {
        string extension = kind.Split('-')[0].Replace("jpeg", "jpg", StringComparison.Ordinal);
        byte[] whole = File.ReadAllBytes(DigitPictures.LightOnDark(folder, 0, $"whole-{kind}.{extension}"));
        switch (kind)
        {
            case "bmp-bits-0":
                BinaryPrimitives.WriteUInt16LittleEndian(whole.AsSpan(28), 0);
                return whole;
            case "bmp-colours-2^31":
                BinaryPrimitives.WriteUInt32LittleEndian(whole.AsSpan(46), 0x8000_0000);
                return whole;
            case "bmp-bits-4":
                // An 8-bit palette picture relabelled 4-bit: ImageSharp 2.1 then fails with a NullReferenceException.
                BinaryPrimitives.WriteUInt16LittleEndian(whole.AsSpan(28), 4);
                return whole;
            default:
                return Edit.InsertPngChunk(whole, "zTXt", [.. "Comment"u8, 0, 0, .. Edit.Zeros(1 << 30)]);
        }
    }

    private sealed record Edit(string Kind, int At, uint Value, int Count)
    {
        public byte[] Apply(byte[] sample)
        {
            var bytes = (byte[])sample.Clone();
            int at = At % bytes.Length;
            switch (Kind)
            {
                case "flip":
                    for (int i = 0; i < Count; i++)
                        bytes[(at + i * 37) % bytes.Length] ^= (byte)(Value | 1);
                    return bytes;
                case "field":
                    BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(Math.Min(at, bytes.Length - 4)), Value);
                    return bytes;
                case "truncate":
                    return bytes[..at];
                default:
                    return bytes.AsSpan().StartsWith(Png)
                        ? InsertPngChunk(bytes, "iCCP", [.. "icc"u8, 0, 0, .. Zeros(64 << 20)])
                        : [.. bytes[..at], .. Zeros(64 << 20), .. bytes[at..]];
            }
        }

        private static readonly byte[] Png = [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];

        private static readonly Dictionary<int, byte[]> ZerosOfLength = [];

        /// <summary>A zlib stream of <paramref name="count"/> zero bytes: about a thousandth of its inflated size.</summary>
        public static byte[] Zeros(int count)
        {
            lock (ZerosOfLength)
            {
                if (ZerosOfLength.TryGetValue(count, out var known))
                    return known;
                using var memory = new MemoryStream();
                using (var zlib = new ZLibStream(memory, CompressionLevel.Optimal))
                {
                    var block = new byte[1 << 20];
                    for (int written = 0; written < count; written += block.Length)
                        zlib.Write(block.AsSpan(0, Math.Min(block.Length, count - written)));
                }

                return ZerosOfLength[count] = memory.ToArray();
            }
        }

        /// <summary>The PNG with a chunk, its CRC right, inserted before its first IDAT.</summary>
        public static byte[] InsertPngChunk(byte[] png, string type, byte[] data)
        {
            int position = 8;
            while (position + 8 <= png.Length && System.Text.Encoding.ASCII.GetString(png, position + 4, 4) != "IDAT")
                position += 12 + Math.Max(0, BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(position)));
            position = Math.Min(position, png.Length);
            var chunk = new byte[12 + data.Length];
            BinaryPrimitives.WriteInt32BigEndian(chunk, data.Length);
            System.Text.Encoding.ASCII.GetBytes(type).CopyTo(chunk, 4);
            data.CopyTo(chunk, 8);
            BinaryPrimitives.WriteUInt32BigEndian(chunk.AsSpan(8 + data.Length), Crc32.HashToUInt32(chunk.AsSpan(4, 4 + data.Length)));
            return [.. png[..position], .. chunk, .. png[position..]];
        }
    }
}
