namespace MnistGpu.Tests.Support;

/// <summary>The rule for a table written to a file or pipe: every line at most 100 characters, or one whole row ("row: column value | …").</summary>
internal static class TableLines
{
    public static void AssertFit(string output)
    {
        foreach (string line in output.Split('\n'))
            Assert.True(line.TrimEnd().Length <= 100 || line.Contains(": ", StringComparison.Ordinal), $"a line of {line.Length} characters that is no record: {line}");
    }
}
