using MnistGpu.Runner;

namespace MnistGpu.Tests.Support;

internal static class CliRun
{
    /// <summary>
    /// Runs the command line in-process. What a command says about itself (device, data, files
    /// written) is kept apart from the errors, so that tests can hold both to their own rules;
    /// the program itself writes both to stderr.
    /// </summary>
    public static CliResult Run(string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        using var diagnostics = new StringWriter();
        int code = Cli.Run(args, output, error, diagnostics);
        return new CliResult(code, output.ToString(), error.ToString(), diagnostics.ToString());
    }
}

internal sealed record CliResult(int Code, string Output, string Error, string Diagnostics)
{
    public void Deconstruct(out int code, out string output, out string error) => (code, output, error) = (Code, Output, Error);
}
