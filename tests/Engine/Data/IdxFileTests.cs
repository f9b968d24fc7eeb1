using MnistGpu.Engine;
using MnistGpu.Engine.Data;
using MnistGpu.Tests.Support;

namespace MnistGpu.Tests.Engine.Data;

public sealed class IdxFileTests : IDisposable
{
    private readonly TempDirectory folder = new();

    public void Dispose() => folder.Dispose();

    [Fact]
    public void Reads_a_raw_file()
    {
        string path = Write("raw", IdxWriter.Encode([1, 2, 3, 4, 5, 6], 3, 2));
        var idx = IdxFile.Read(path, expectedRank: 2);
        Assert.Equal([3, 2], idx.Dimensions);
        Assert.Equal(new byte[] { 1, 2, 3, 4, 5, 6 }, idx.Data);
    }

    [Fact]
    public void Reads_a_gzip_file_whatever_its_name()
    {
        string path = Write("no-extension", IdxWriter.Gzip(IdxWriter.Encode([7, 8, 9], 3)));
        Assert.Equal(new byte[] { 7, 8, 9 }, IdxFile.Read(path, expectedRank: 1).Data);
    }

    [Fact]
    public void Rejects_a_truncated_file_saying_how_long_it_should_be()
    {
        var bytes = IdxWriter.Encode(new byte[6], 3, 2);
        string path = Write("truncated", bytes[..^1]);
        var error = Assert.Throws<UserInputException>(() => IdxFile.Read(path, 2));
        Assert.Contains(path, error.Message);
        Assert.Contains("truncated: the file is 17 bytes, but dimensions 3x2 need 18", error.Message);
    }

    [Fact]
    public void Refuses_a_small_gzip_file_whose_header_announces_a_gigabyte_before_allocating_it()
    {
        var header = IdxWriter.Encode([], 1_000_000_000);
        string path = Write("bomb.gz", IdxWriter.Gzip([.. header, .. new byte[1000]]));
        long before = GC.GetAllocatedBytesForCurrentThread();
        var error = Assert.Throws<UserInputException>(() => IdxFile.Read(path, 1));
        Assert.Contains("the gzip data is 1,008 bytes, but dimensions 1000000000 need 1,000,000,008", error.Message);
        Assert.InRange(GC.GetAllocatedBytesForCurrentThread() - before, 0, 1 << 20);
    }

    [Fact]
    public void Reads_a_file_of_several_gzip_members_as_one()
    {
        var bytes = IdxWriter.Encode([1, 2, 3, 4, 5, 6], 3, 2);
        string path = Write("members.gz", [.. IdxWriter.Gzip(bytes[..7]), .. IdxWriter.Gzip(bytes[7..])]);
        Assert.Equal(new byte[] { 1, 2, 3, 4, 5, 6 }, IdxFile.Read(path, expectedRank: 2).Data);
    }

    [Theory]
    [InlineData(-1, "the gzip data is 17 bytes, but dimensions 3x2 need 18")]
    [InlineData(1, "the gzip data is more than 18 bytes, but dimensions 3x2 need 18")]
    public void Counts_what_several_gzip_members_hold_before_allocating(int change, string message)
    {
        var bytes = IdxWriter.Encode(new byte[6 + Math.Max(change, 0)], 3, 2)[..(18 + change)];
        string path = Write("members.gz", [.. IdxWriter.Gzip(bytes[..10]), .. IdxWriter.Gzip(bytes[10..])]);
        Assert.Contains(message, Assert.Throws<UserInputException>(() => IdxFile.Read(path, 2)).Message);
    }

    [Fact]
    public void Rejects_a_truncated_header()
    {
        string path = Write("short-header", IdxWriter.Encode([], 3, 2)[..9]);
        Assert.Contains("truncated header", Assert.Throws<UserInputException>(() => IdxFile.Read(path, 2)).Message);
    }

    [Fact]
    public void Rejects_trailing_bytes()
    {
        string path = Write("long", [.. IdxWriter.Encode([1, 2], 2), 0]);
        Assert.Contains("trailing bytes", Assert.Throws<UserInputException>(() => IdxFile.Read(path, 1)).Message);
    }

    [Fact]
    public void Rejects_a_wrong_magic_number()
    {
        var bytes = IdxWriter.Encode([1, 2], 2);
        bytes[0] = 0x1f;
        string path = Write("magic", bytes);
        Assert.Contains("bad magic number 0x1f000801", Assert.Throws<UserInputException>(() => IdxFile.Read(path, 1)).Message);
    }

    [Fact]
    public void Rejects_a_non_byte_element_type()
    {
        var bytes = IdxWriter.Encode([1, 2, 3, 4], 1);
        bytes[2] = 0x0d;
        string path = Write("float", bytes);
        Assert.Contains("element type 0x0d", Assert.Throws<UserInputException>(() => IdxFile.Read(path, 1)).Message);
    }

    [Fact]
    public void Rejects_the_wrong_rank()
    {
        string path = Write("rank", IdxWriter.Encode(new byte[6], 3, 2));
        Assert.Contains("rank 2, expected 3", Assert.Throws<UserInputException>(() => IdxFile.Read(path, 3)).Message);
    }

    [Fact]
    public void Rejects_a_damaged_gzip_stream()
    {
        var gzip = IdxWriter.Gzip(IdxWriter.Encode(new byte[1000], 1000));
        string path = Write("damaged.gz", gzip[..20]);
        var error = Assert.Throws<UserInputException>(() => IdxFile.Read(path, 1));
        Assert.Contains(path, error.Message);
    }

    [Fact]
    public void Reports_a_missing_file_with_its_path()
    {
        string path = folder.File("absent");
        Assert.Contains(path, Assert.Throws<UserInputException>(() => IdxFile.Read(path, 1)).Message);
    }

    private string Write(string name, byte[] bytes)
    {
        string path = folder.File(name);
        File.WriteAllBytes(path, bytes);
        return path;
    }
}
