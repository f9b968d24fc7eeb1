using System.Runtime.InteropServices;
using MnistGpu.Engine.IO;

namespace MnistGpu.Runner;

/// <summary>
/// Turns Ctrl-C (SIGINT) and SIGTERM into a request to stop — train between steps, serve after
/// the requests in flight — instead of the default immediate exit, and remembers the exit code
/// the first signal asks for (a second one does not change it).
/// </summary>
internal sealed class StopSignals : IDisposable
{
    /// <summary>The exit code after Ctrl-C: 128 + SIGINT, as shells report it.</summary>
    public const int Interrupted = 130;

    /// <summary>The exit code after SIGTERM: 128 + SIGTERM.</summary>
    public const int Terminated = 143;

    private readonly CancellationTokenSource source = new();
    private readonly PosixSignalRegistration interrupt;
    private readonly PosixSignalRegistration terminate;
    private int firstSignalExitCode;

    public StopSignals()
    {
        interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, context => Stop(context, Interrupted));
        terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context => Stop(context, Terminated));
    }

    public CancellationToken Token => source.Token;

    /// <summary>The exit code the first signal asked for (a later one does not change it); <see cref="Interrupted"/> before any.</summary>
    public int ExitCode => firstSignalExitCode == 0 ? Interrupted : firstSignalExitCode;

    public void Dispose()
    {
        interrupt.Dispose();
        terminate.Dispose();
        source.Dispose();
    }

    private void Stop(PosixSignalContext context, int exitCode)
    {
        context.Cancel = true;
        Interlocked.CompareExchange(ref firstSignalExitCode, exitCode, 0);
        source.Cancel();
        OutputFile.StopSignalReceived();
    }
}
