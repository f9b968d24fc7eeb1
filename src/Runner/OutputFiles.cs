using MnistGpu.Engine;

namespace MnistGpu.Runner;

internal static class OutputFiles
{
    /// <summary>Fails before any training when a result could not be written at the end.</summary>
    public static void RequireWritableFolder(string path, string option)
    {
        string folder = Path.GetDirectoryName(Path.GetFullPath(path)) ?? ".";
        if (!Directory.Exists(folder))
            throw new UserInputException($"{option} {path}: folder {folder} does not exist");
    }
}
