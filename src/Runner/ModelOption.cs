using System.CommandLine;

namespace MnistGpu.Runner;

internal static class ModelOption
{
    public static Option<FileInfo> Create() => new("--model")
    {
        Description = "A checkpoint written by 'train --save'",
        Required = true,
    };
}
