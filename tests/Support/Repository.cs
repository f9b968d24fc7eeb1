namespace MnistGpu.Tests.Support;

/// <summary>The source checkout the tests were built from, for tests about its files (README, data).</summary>
internal static class Repository
{
    public static string Root { get; } = FindRoot();

    public static string MnistFolder => Path.Combine(Root, "data", "mnist");

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "MnistGpu.sln")))
                return dir.FullName;
        }

        throw new InvalidOperationException($"no MnistGpu.sln above {AppContext.BaseDirectory}");
    }
}
