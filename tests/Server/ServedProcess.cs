using System.Diagnostics;
using System.Globalization;
using MnistGpu.Tests.Support;

namespace MnistGpu.Tests.Server;

/// <summary>
/// <c>mnistgpu serve</c> in a child process, on any free port, with a seed network trained 2
/// epochs on the host: what the API and browser tests talk to, over real HTTP.
/// </summary>
public sealed class ServedProcess : IDisposable
{
    private readonly TempDirectory folder = new();
    private readonly Process process;
    private readonly Task<string> error;

    public ServedProcess()
    {
        Model = folder.File("seed.ckpt");
        var train = CliRun.Run(["train", "--device", "host", "--epochs", "2", "--save", Model]);
        if (train.Code != 0)
            throw new InvalidOperationException($"training the served model failed: {train.Error}");
        process = RunnerProcess.Start("serve", "--model", Model, "--device", "host", "--port", "0");
        error = process.StandardError.ReadToEndAsync();
        var line = process.StandardOutput.ReadLineAsync();
        if (!line.Wait(TimeSpan.FromSeconds(60)) || line.Result is null)
            throw new InvalidOperationException($"serve printed no address: {(process.HasExited ? error.Result : "still starting after 60 s")}");
        Address = new Uri(line.Result);
        Client = new HttpClient { BaseAddress = Address, Timeout = TimeSpan.FromSeconds(60) };
    }

    /// <summary>The checkpoint served.</summary>
    public string Model { get; }

    public Uri Address { get; }

    public HttpClient Client { get; }

    /// <summary>The server's resident memory high-water mark (Linux's VmHWM).</summary>
    public long PeakBytes
    {
        get
        {
            string line = File.ReadLines($"/proc/{process.Id}/status").First(l => l.StartsWith("VmHWM:", StringComparison.Ordinal));
            return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
        }
    }

    public void Dispose()
    {
        Client.Dispose();
        if (!process.HasExited)
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
        }

        process.Dispose();
        folder.Dispose();
    }
}

[CollectionDefinition(Name)]
public sealed class ServedSeedNetwork : ICollectionFixture<ServedProcess>
{
    public const string Name = "served seed network";
}
