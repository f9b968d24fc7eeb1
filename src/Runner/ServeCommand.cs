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
/// address on stdout. Ctrl-C or SIGTERM stop it after the requests in flight, exit 130 or 143.
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
            using var stop = new StopSignals();
            var server = DigitServer.ListenAsync(address, portNumber).GetAwaiter().GetResult();
            try
            {
                var checkpoint = Checkpoint.Load(parsed.GetValue(model)!.FullName);
                using var backend = DeviceOpener.Open(parsed.GetValue(device)!, memoryLimitBytes: null, diagnostics);
                using var served = new ServedModel(new TrainedNetwork(backend, checkpoint), backend.DeviceName);
                server.Serve(served);
                if (!IPAddress.IsLoopback(address))
                    diagnostics.WriteLine($"Listening on {server.Address}: the page is reachable from the network, not only from this machine.");
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

    /// <summary>An IP address, or localhost (the IPv4 loopback).</summary>
    private static IPAddress Address(string host) =>
        string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase) ? IPAddress.Loopback
        : IPAddress.TryParse(host, out var address) ? address
        : throw new UserInputException($"--host {Cli.OneLine(host)}: not an IP address (e.g. 127.0.0.1, ::1 or 0.0.0.0) or localhost");
}
