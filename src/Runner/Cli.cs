using System.CommandLine;
using MnistGpu.Engine;

namespace MnistGpu.Runner;

/// <summary>
/// The command line: parses, dispatches to a command, and turns every failure into one line on
/// stderr with an exit code — 2 for bad usage or input, 1 for anything else.
/// </summary>
public static class Cli
{
    public const int Ok = 0;
    public const int Failure = 1;
    public const int UsageError = 2;

    public static int Run(string[] args, TextWriter output, TextWriter error)
    {
        var root = new RootCommand("MnistGpu: trains the Keras MNIST network (784-512-10, RMSprop) on ILGPU devices.")
        {
            TrainCommand.Create(output),
            DevicesCommand.Create(output),
            VerifyCommand.Create(output),
            BenchCommand.Create(output),
            EvaluateCommand.Create(output),
            PredictCommand.Create(output, error),
            ExportCommand.Create(output),
            ReportCommand.Create(output),
            KernelsCommand.Create(output),
        };

        var parsed = root.Parse(args);
        if (parsed.Errors.Count > 0)
        {
            error.WriteLine($"mnistgpu: {string.Join("; ", parsed.Errors.Select(e => e.Message))} (see --help)");
            return UsageError;
        }

        try
        {
            return parsed.Invoke(new InvocationConfiguration { Output = output, Error = error, EnableDefaultExceptionHandler = false });
        }
        catch (UserInputException e)
        {
            error.WriteLine($"mnistgpu: {e.Message}");
            return UsageError;
        }
        catch (EngineException e)
        {
            error.WriteLine($"mnistgpu: {e.Message}");
            return Failure;
        }
        catch (OutOfMemoryException)
        {
            error.WriteLine("mnistgpu: out of memory");
            return Failure;
        }
        catch (Exception e)
        {
            error.WriteLine($"mnistgpu: {e.GetType().Name}: {OneLine(e.Message)}");
            return Failure;
        }
    }

    private static string OneLine(string text) => text.ReplaceLineEndings(" ");
}
