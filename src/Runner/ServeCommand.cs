using System.CommandLine;
using System.Net;
using MnistGpu.Engine;
using MnistGpu.Engine.Training;
using MnistGpu.Server;

namespace MnistGpu.Runner;

/// <summary>
/// <c>mnistgpu serve</c>: the page where a person draws a digit and watches the network answer.
/// It listens first (a port in use: one line, exit 1, before the model or the device is
/// touched), then loads the model once, read-only, opens the device, and prints the page's
/// address on stdout. Ctrl-C or SIGTERM stop it after the requests in flight (their connections
/// closed after <see cref="DigitServer.StopDeadline"/>), exit 130 or 143; during the model's load,
/// at once, without printing the address.
/// </summary>
internal static class ServeCommand
{
    public const int DefaultPort = 5000;

    public static Command Create(TextWriter output, TextWriter diagnostics)
    {
        var model = ModelOption.Create();
        var device = Options.Device();
        var port = new Option<int>("--port") { Description = $"The TCP port to listen on (0: any free one; default {DefaultPort})", DefaultValueFactory = _ => DefaultPort };
        var host = new Option<string>("--host") { Description = "The address to listen on; anything but a loopback address makes the page reachable from the network", DefaultValueFactory = _ => "127.0.0.1" };
        var command = new Command("serve", "Serve a page where you draw a digit and watch the network answer, and its API (POST /api/predict)") { model, device, port, host };
        command.SetAction(parsed =>
        {
            int portNumber = parsed.GetValue(port);
            if (portNumber is < 0 or > 65535)
                throw new UserInputException($"--port {portNumber}: a port is from 0 to 65535");
            var address = Address(parsed.GetValue(host)!);
            string modelPath = parsed.GetValue(model)!.FullName;
            string deviceName = parsed.GetValue(device)!;
            // Said before the socket listens, not after the model loads: from the first connection on, others can reach it.
            if (!IPAddress.IsLoopback(address))
                diagnostics.WriteLine($"Listening on {address} (port {(portNumber == 0 ? "any free one" : portNumber)}): the page is reachable from the network, not only from this machine, and requests are answered whatever host they name.");
            using var stop = new StopSignals();
            var server = DigitServer.ListenAsync(address, portNumber).GetAwaiter().GetResult();
            try
            {
                // The model loads while the signals are watched: a stop during a long load exits
                // at once, without printing an address that will not answer.
                var loading = Task.Run(() => Load(modelPath, deviceName, diagnostics));
                WaitHandle.WaitAny([((IAsyncResult)loading).AsyncWaitHandle, stop.Token.WaitHandle]);
                if (stop.Token.IsCancellationRequested)
                {
                    loading.ContinueWith(loaded => loaded.Result.Dispose(), TaskContinuationOptions.OnlyOnRanToCompletion);
                    return stop.ExitCode;
                }

                using var loaded = loading.GetAwaiter().GetResult();
                server.Serve(loaded.Model);
                output.WriteLine(server.Address);
                output.Flush();
                stop.Token.WaitHandle.WaitOne();
                server.StopAsync().GetAwaiter().GetResult();
                return stop.ExitCode;
            }
            finally
            {
                server.DisposeAsync().AsTask().GetAwaiter().GetResult();
            }
        });
        return command;
    }

    /// <summary>The checkpoint on its device, read-only.</summary>
    private static LoadedModel Load(string modelPath, string deviceName, TextWriter diagnostics)
    {
        var checkpoint = Checkpoint.Load(modelPath);
        var backend = DeviceOpener.Open(deviceName, memoryLimitBytes: null, diagnostics);
        try
        {
            return new LoadedModel(backend, new ServedModel(new TrainedNetwork(backend, checkpoint), backend.DeviceName));
        }
        catch
        {
            backend.Dispose();
            throw;
        }
    }

    /// <summary>
    /// An IP address written in full (dotted IPv4, or IPv6), or localhost (the IPv4 loopback):
    /// "0" or "127.1", which the system would read as 0.0.0.0 or 127.0.0.1, are refused as the
    /// surprise they are.
    /// </summary>
    private static IPAddress Address(string host) =>
        string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase) ? IPAddress.Loopback
        : IPAddress.TryParse(host, out var address) && (address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 || host.Split('.').Length == 4) ? address
        : throw new UserInputException($"--host {Cli.OneLine(host)}: not an IP address written in full (e.g. 127.0.0.1, ::1 or 0.0.0.0 for every interface) or localhost");

    /// <summary>The served model and the device it runs on, released together.</summary>
    private sealed record LoadedModel(IDisposable Backend, ServedModel Model) : IDisposable
    {
        public void Dispose()
        {
            Model.Dispose();
            Backend.Dispose();
        }
    }
}
