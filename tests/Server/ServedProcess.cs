using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using MnistGpu.Tests.Support;

namespace MnistGpu.Tests.Server;

/// <summary>
/// <c>mnistgpu serve</c> in a child process, on any free port, with a seed network trained 2
/// epochs on the host: what the API and browser tests talk to, over real HTTP.
/// </summary>
public class ServedProcess : IDisposable
{
    private readonly TempDirectory folder = new();
    private readonly Process process;
    private readonly Task<string> error;

    public ServedProcess()
        : this("--epochs", "2")
    {
    }

    /// <param name="training"><c>train</c>'s options for the served model, beside --device host and --save.</param>
    protected ServedProcess(params string[] training)
    {
        Model = folder.File("model.ckpt");
        var train = CliRun.Run(["train", "--device", "host", .. training, "--save", Model]);
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

    /// <summary>Test digit <paramref name="index"/> as a PNG (<see cref="DigitPictures.LightOnDark"/>) posted to <paramref name="route"/>: the status and the JSON answer.</summary>
    public async Task<(HttpStatusCode Status, JsonElement Answer)> PostTestDigit(string route, int index)
    {
        using var folder = new TempDirectory();
        using var content = new ByteArrayContent(File.ReadAllBytes(DigitPictures.LightOnDark(folder, index, "digit.png")));
        content.Headers.ContentType = new MediaTypeHeaderValue("image/png");
        using var response = await Client.PostAsync(route, content);
        using var answer = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return (response.StatusCode, answer.RootElement.Clone());
    }

    /// <summary>The server's resident memory high-water mark (Linux's VmHWM).</summary>
    public long PeakBytes => Status("VmHWM:");

    /// <summary>The server's resident memory now (Linux's VmRSS).</summary>
    public long ResidentBytes => Status("VmRSS:");

    private long Status(string field)
    {
        string line = File.ReadLines($"/proc/{process.Id}/status").First(l => l.StartsWith(field, StringComparison.Ordinal));
        return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
    }

    public void Dispose()
    {
        Dispose(disposing: true);
        GC.SuppressFinalize(this);
    }

    protected virtual void Dispose(bool disposing)
    {
        if (!disposing)
            return;
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

/// <summary>A small convnet served: one convolution of 8 filters and a pooling, trained 1 epoch.</summary>
public sealed class ServedConvnet() : ServedProcess("--epochs", "1", "--layers", "conv3x3:8,maxpool,flatten,32");

[CollectionDefinition(Name)]
public sealed class ServedSeedNetwork : ICollectionFixture<ServedProcess>
{
    public const string Name = "served seed network";
}
