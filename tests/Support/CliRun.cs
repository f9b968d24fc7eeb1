using MnistGpu.Runner;

namespace MnistGpu.Tests.Support;

internal static class CliRun
{
    /// <summary>Runs the command line in-process; returns its exit code and what it wrote to stdout and stderr.</summary>
    public static (int Code, string Output, string Error) Run(string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        int code = Cli.Run(args, output, error);
        return (code, output.ToString(), error.ToString());
    }
}
