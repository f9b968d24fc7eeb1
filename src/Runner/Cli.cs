using System.CommandLine;
using MnistGpu.Engine;

namespace MnistGpu.Runner;

/// <summary>
/// The command line: parses, dispatches to a command, and turns every failure into one line on
/// stderr with an exit code — 2 for bad usage or input, 1 for anything else. stdout carries
/// results only, so that scripts can read it; what the program says about itself (the device
/// chosen, the data read, files written) goes to stderr with the errors.
/// </summary>
public static class Cli
{
    public const int Ok = 0;
    public const int Failure = 1;
    public const int UsageError = 2;

    /// <param name="diagnostics">Where commands say what they are doing; stderr, like <paramref name="error"/>, unless given.</param>
    public static int Run(string[] args, TextWriter output, TextWriter error, TextWriter? diagnostics = null)
    {
        diagnostics ??= error;
        var root = new RootCommand("MnistGpu: trains dense networks and convnets on MNIST or any set in its file layout (by default the Keras example: 784-512-10, RMSprop), on CUDA, OpenCL, ILGPU's CPU accelerator and the host's own SIMD path; evaluates, predicts, serves a page to draw on, and exports to ONNX.")
        {
            TrainCommand.Create(output, diagnostics),
            DevicesCommand.Create(output, diagnostics),
            VerifyCommand.Create(output, diagnostics),
            BenchCommand.Create(output, diagnostics),
            EvaluateCommand.Create(output, diagnostics),
            PredictCommand.Create(output, diagnostics, error),
            ExportCommand.Create(output, diagnostics),
            ReportCommand.Create(output, diagnostics),
            KernelsCommand.Create(output, diagnostics),
            ServeCommand.Create(output, diagnostics),
            SummaryCommand.Create(output),
        };

        // No response files: "@name" is a path like any other, never a file of arguments to expand.
        var parsed = root.Parse(args, new ParserConfiguration { ResponseFileTokenReplacer = null });
        if (UsageErrors.Describe(parsed, root) is { } problem)
        {
            var command = parsed.CommandResult.Command;
            error.WriteLine($"mnistgpu: {ErrorLine(problem)} (see mnistgpu {(command == root ? "" : command.Name + " ")}--help)");
            return UsageError;
        }

        try
        {
            return parsed.Invoke(new InvocationConfiguration { Output = output, Error = error, EnableDefaultExceptionHandler = false });
        }
        catch (UserInputException e)
        {
            error.WriteLine($"mnistgpu: {ErrorLine(e.Message)}");
            return UsageError;
        }
        catch (EngineException e)
        {
            error.WriteLine($"mnistgpu: {ErrorLine(e.Message)}");
            return Failure;
        }
        catch (OutOfMemoryException)
        {
            error.WriteLine("mnistgpu: out of memory");
            return Failure;
        }
        catch (Exception e)
        {
            error.WriteLine($"mnistgpu: {e.GetType().Name}: {ErrorLine(e.Message.ReplaceLineEndings(" "))}");
            return Failure;
        }
    }

    /// <summary>Words longer than this are shortened in an error line: a value of 100 kB is not echoed whole.</summary>
    private const int LongestWord = 200;

    /// <summary>
    /// An error message as one line a person can read: <see cref="OneLine"/>, and every word
    /// (a value, a path) longer than <see cref="LongestWord"/> characters shortened to its first
    /// and last characters with its length, e.g. "xxxx…xxxx (100,000 characters)"; a line still
    /// longer than <see cref="LongestLine"/> keeps its start and end the same way.
    /// </summary>
    public static string ErrorLine(string message)
    {
        string line = string.Join(' ', OneLine(message).Split(' ').Select(word => word.Length <= LongestWord ? word : $"{word[..80]}…{word[^60..]} ({word.Length:N0} characters)"));
        return line.Length <= LongestLine ? line : $"{line[..600]} … ({line.Length:N0} characters) … {line[^300..]}";
    }

    /// <summary>An error line longer than this (a value of many short words) keeps its start and its end.</summary>
    private const int LongestLine = 1_000;

    /// <summary>
    /// <paramref name="text"/> with every control character escaped (a newline as \n), so that a
    /// file name holding one cannot split a message or forge a line of results.
    /// </summary>
    public static string OneLine(string text)
    {
        if (!text.Any(char.IsControl))
            return text;
        var escaped = new System.Text.StringBuilder(text.Length + 8);
        foreach (char c in text)
        {
            escaped.Append(c switch
            {
                '\n' => "\\n",
                '\r' => "\\r",
                '\t' => "\\t",
                _ when char.IsControl(c) => $"\\u{(int)c:x4}",
                _ => c.ToString(),
            });
        }

        return escaped.ToString();
    }
}
