using System.Globalization;

namespace MnistGpu.Runner;

/// <summary>Sizes as people write them: 1048576, 512MB, 2GiB, 64k (powers of 1024).</summary>
internal static class ByteSize
{
    private static readonly (string Suffix, long Factor)[] Units =
    [
        ("gib", 1L << 30), ("gb", 1L << 30), ("g", 1L << 30),
        ("mib", 1L << 20), ("mb", 1L << 20), ("m", 1L << 20),
        ("kib", 1L << 10), ("kb", 1L << 10), ("k", 1L << 10),
        ("b", 1), ("", 1),
    ];

    public static bool TryParse(string text, out long bytes)
    {
        string lower = text.Trim().ToLowerInvariant();
        foreach (var (suffix, factor) in Units)
        {
            if (lower.EndsWith(suffix, StringComparison.Ordinal)
                && double.TryParse(lower[..^suffix.Length], NumberStyles.Float, CultureInfo.InvariantCulture, out double value)
                && value > 0 && value * factor < long.MaxValue)
            {
                bytes = (long)(value * factor);
                return bytes > 0;
            }
        }

        bytes = 0;
        return false;
    }
}
