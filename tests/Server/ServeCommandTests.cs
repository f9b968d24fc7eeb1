using System.Net;
using System.Net.Sockets;
using MnistGpu.Tests.Support;

namespace MnistGpu.Tests.Server;

/// <summary><c>mnistgpu serve</c>'s start and stop: one line and the right exit code for each way it can fail.</summary>
public sealed class ServeCommandTests
{
    [Fact]
    public void A_port_in_use_gets_one_line_and_exit_1_before_the_device_is_opened()
    {
        using var folder = new TempDirectory();
        string model = SmallModel.WriteTo(folder);
        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        int port = ((IPEndPoint)taken.LocalEndpoint).Port;

        var (code, output, error) = CliRun.Run(["serve", "--model", model, "--device", "host", "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        Assert.Equal((1, ""), (code, output));
        Assert.Equal($"mnistgpu: cannot listen on 127.0.0.1:{port}: the port is in use\n", error.ReplaceLineEndings("\n"));

        // The program itself: exactly one stderr line, and no "Device:" line before it.
        var measured = RunnerProcess.RunMeasured("serve", "--model", model, "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(1, measured.Code);
        Assert.Equal($"mnistgpu: cannot listen on 127.0.0.1:{port}: the port is in use", Assert.Single(measured.Error.TrimEnd('\n').Split('\n')));
    }

    [Theory]
    [InlineData("missing model")]
    [InlineData("not a checkpoint")]
    [InlineData("--port 70000")]
    [InlineData("--port -1")]
    [InlineData("--host example.com")]
    [InlineData("--host 0")]
    [InlineData("--host 127.1")]
    public void Bad_input_gets_one_line_and_exit_2(string problem)
    {
        using var folder = new TempDirectory();
        string model = problem switch
        {
            "missing model" => folder.File("missing.ckpt"),
            "not a checkpoint" => DigitPictures.Blank(folder, "blank.png"),
            _ => SmallModel.WriteTo(folder),
        };
        string[] extra = problem.StartsWith("--", StringComparison.Ordinal) ? problem.Split(' ') : ["--port", "0"];
        var measured = RunnerProcess.RunMeasured(["serve", "--model", model, "--device", "host", .. extra]);
        Assert.Equal(2, measured.Code);
        Assert.StartsWith("mnistgpu: ", Assert.Single(measured.Error.TrimEnd('\n').Split('\n')), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("INT", 130)]
    [InlineData("TERM", 143)]
    public async Task A_signal_stops_it_with_train_s_exit_code(string signal, int expected)
    {
        using var folder = new TempDirectory();
        string model = SmallModel.WriteTo(folder);
        using var process = RunnerProcess.Start("serve", "--model", model, "--device", "host", "--port", "0");
        var error = process.StandardError.ReadToEndAsync();
        string? address = await process.StandardOutput.ReadLineAsync();
        Assert.StartsWith("http://127.0.0.1:", address, StringComparison.Ordinal);
        using (var client = new HttpClient())
            Assert.Contains("<canvas", await client.GetStringAsync(new Uri(address!)), StringComparison.Ordinal);

        RunnerProcess.Signal(process, signal);
        Assert.True(RunnerProcess.ExitsWithin(process, 30_000), "serve did not stop within 30 s");
        Assert.Equal(expected, process.ExitCode);
        Assert.Equal("", await process.StandardOutput.ReadToEndAsync());
        Assert.StartsWith("Device: host", Assert.Single((await error).TrimEnd('\n').Split('\n')), StringComparison.Ordinal);
    }

    [Fact]
    public void Listening_beyond_loopback_says_so_in_one_stderr_line_before_it_listens()
    {
        using var folder = new TempDirectory();
        string model = SmallModel.WriteTo(folder);
        using var process = RunnerProcess.Start("serve", "--model", model, "--device", "host", "--port", "0", "--host", "0.0.0.0");
        string? address = process.StandardOutput.ReadLine();
        Assert.StartsWith("http://0.0.0.0:", address, StringComparison.Ordinal);
        process.Kill();
        process.WaitForExit();
        var lines = process.StandardError.ReadToEnd().TrimEnd('\n').Split('\n');
        Assert.Equal(2, lines.Length);
        Assert.Equal("Listening on 0.0.0.0 (port any free one): the page is reachable from the network, not only from this machine, and requests are answered whatever host they name.", lines[0]);
        Assert.StartsWith("Device: host", lines[1], StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_stop_while_a_request_is_half_received_exits_within_5_s()
    {
        using var folder = new TempDirectory();
        string model = SmallModel.WriteTo(folder);
        using var process = RunnerProcess.Start("serve", "--model", model, "--device", "host", "--port", "0");
        var address = new Uri((await process.StandardOutput.ReadLineAsync())!);
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, address.Port);
        await client.GetStream().WriteAsync(System.Text.Encoding.ASCII.GetBytes($"POST /api/predict HTTP/1.1\r\nHost: 127.0.0.1:{address.Port}\r\nContent-Type: image/png\r\nContent-Length: 100000\r\n\r\npart of it"));
        await Task.Delay(300);

        var clock = System.Diagnostics.Stopwatch.StartNew();
        RunnerProcess.Signal(process, "TERM");
        Assert.True(process.WaitForExit(10_000), "serve did not stop within 10 s");
        Assert.InRange(clock.Elapsed, TimeSpan.Zero, TimeSpan.FromSeconds(5));
        Assert.Equal(143, process.ExitCode);
    }

    [Fact]
    public async Task A_stop_during_the_model_load_exits_at_once_without_printing_the_address()
    {
        using var folder = new TempDirectory();
        string model = folder.File("large.ckpt");
        LargeCheckpoint().Save(model);
        int port = FreePort();
        using var process = RunnerProcess.Start("serve", "--model", model, "--device", "host", "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture));
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        while (!Listening(port))
        {
            Assert.False(process.HasExited, "serve ended before it listened");
            await Task.Delay(5);
        }

        RunnerProcess.Signal(process, "TERM");
        Assert.True(process.WaitForExit(10_000), "serve did not stop within 10 s");
        Assert.Equal(143, process.ExitCode);
        Assert.Equal("", await output);
        Assert.DoesNotContain("Device:", await error, StringComparison.Ordinal);
    }

    /// <summary>A checkpoint of 20 million parameters (160 MB with RMSprop's state): its load takes long enough to be interrupted.</summary>
    private static MnistGpu.Engine.Training.Checkpoint LargeCheckpoint()
    {
        var small = SmallModel.Checkpoint;
        var shape = new MnistGpu.Engine.Model.NetworkShape(784, [4096, 4096], 10);
        var settings = small.Settings with { Layers = [4096, 4096] };
        return small with { Shape = shape, Settings = settings, Parameters = new float[shape.ParameterCount], OptimizerState = [new float[shape.ParameterCount]] };
    }

    private static int FreePort()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }

    private static bool Listening(int port)
    {
        try
        {
            using var client = new TcpClient();
            client.Connect(IPAddress.Loopback, port);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}
