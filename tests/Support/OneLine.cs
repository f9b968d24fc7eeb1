namespace MnistGpu.Tests.Support;

/// <summary>The command line's rule for a refusal: exactly one line, starting as expected, naming no .NET exception.</summary>
internal static class OneLine
{
    public static void Expect(string error, string expectedStart)
    {
        var line = Assert.Single(error.TrimEnd().Split('\n'));
        Assert.True(line.StartsWith(expectedStart, StringComparison.Ordinal), $"expected a line starting \"{expectedStart}\", got \"{line}\"");
        Assert.DoesNotContain("Exception", line);
    }
}
