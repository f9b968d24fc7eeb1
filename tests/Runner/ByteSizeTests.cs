using MnistGpu.Runner;

namespace MnistGpu.Tests.Runner;

public sealed class ByteSizeTests
{
    [Theory]
    [InlineData("1048576", 1_048_576)]
    [InlineData("512MB", 512L << 20)]
    [InlineData("512mib", 512L << 20)]
    [InlineData("2GiB", 2L << 30)]
    [InlineData("1.5g", 3L << 29)]
    [InlineData("64k", 64L << 10)]
    [InlineData(" 7b ", 7)]
    public void Sizes_are_read_in_powers_of_1024(string text, long expected)
    {
        Assert.True(ByteSize.TryParse(text, out long bytes));
        Assert.Equal(expected, bytes);
    }

    [Theory]
    [InlineData("0")]
    [InlineData("-1MB")]
    [InlineData("lots")]
    [InlineData("")]
    [InlineData("MB")]
    [InlineData("1e30g")]
    [InlineData("0.1b")]
    public void Nonsense_and_sizes_that_are_not_a_positive_number_of_bytes_are_refused(string text)
    {
        Assert.False(ByteSize.TryParse(text, out _));
    }
}
