using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using MnistGpu.Tests.Support;

namespace MnistGpu.Tests.Server;

/// <summary>
/// <c>mnistgpu serve</c> under clients that are slow, heavy, malformed or from elsewhere: large
/// pictures are refused before decoding and a burst of the largest accepted ones stays within
/// its memory bound; trickling bodies hold no prediction slot and end in 408; a page whose name
/// resolves to loopback cannot drive it; every error the server writes is one line of JSON.
/// Loopback only.
/// </summary>
[Collection(ServedSeedNetwork.Name)]
public sealed class ServeHostileClientTests(ServedProcess served) : IDisposable
{
    private readonly TempDirectory folder = new();

    public void Dispose() => folder.Dispose();

    [Fact]
    public async Task A_picture_over_1024_a_side_is_refused_with_413_before_it_is_decoded()
    {
        byte[] huge = File.ReadAllBytes(DigitPictures.Sized(folder, 4096, 4096, "huge.png"));
        Assert.InRange(huge.Length, 1, 200_000);
        var (status, error) = await Post(huge, "image/png");
        Assert.Equal(413, status);
        Assert.Equal("the picture is 4096x4096; this server takes pictures up to 1024x1024", error);

        var (wide, _) = await Post(File.ReadAllBytes(DigitPictures.Sized(folder, 1025, 20, "wide.png")), "image/png");
        Assert.Equal(413, wide);
        var (largest, answer) = await Post(File.ReadAllBytes(DigitPictures.Enlarged(folder, 0, 1024, "largest.png")), "image/png");
        Assert.Equal(200, largest);
        Assert.Equal(Bundled.Mnist.Test.Labels[0].ToString(CultureInfo.InvariantCulture), answer);
    }

    [Trait(Category.Name, Category.Slow)]
    [Fact]
    public async Task Bursts_of_16_of_the_largest_pictures_stay_under_1_GB_and_the_memory_comes_back()
    {
        byte[] largest = File.ReadAllBytes(DigitPictures.Enlarged(folder, 1, 1024, "largest.png"));
        Assert.Equal(200, (await Post(largest, "image/png")).Status);
        long idle = served.ResidentBytes;
        for (int burst = 0; burst < 3; burst++)
        {
            var statuses = await Task.WhenAll(Enumerable.Range(0, 16).Select(async _ => (await Post(largest, "image/png")).Status));
            Assert.All(statuses, status => Assert.Equal(200, status));
        }

        Assert.InRange(served.PeakBytes, 1, 1L << 30);
        var clock = Stopwatch.StartNew();
        while (served.ResidentBytes > idle + (200L << 20) && clock.Elapsed < TimeSpan.FromSeconds(30))
            await Task.Delay(500);
        Assert.InRange(served.ResidentBytes, 1, idle + (200L << 20));
    }

    [Trait(Category.Name, Category.Slow)]
    [Fact]
    public async Task Sixteen_trickling_bodies_hold_no_prediction_slot_and_end_in_408()
    {
        var tricklers = Enumerable.Range(0, 16).Select(_ => Trickle(declared: 1 << 20)).ToList();
        await Task.Delay(1_000);
        for (int i = 0; i < 3; i++)
        {
            var (status, digit) = await Post(File.ReadAllBytes(DigitPictures.LightOnDark(folder, 2, "two.png")), "image/png");
            Assert.Equal((200, Bundled.Mnist.Test.Labels[2].ToString(CultureInfo.InvariantCulture)), (status, digit));
        }

        var clock = Stopwatch.StartNew();
        var answers = await Task.WhenAll(tricklers);
        Assert.InRange(clock.Elapsed, TimeSpan.Zero, TimeSpan.FromSeconds(15));
        Assert.All(answers, answer => Assert.StartsWith("HTTP/1.1 408 ", answer, StringComparison.Ordinal));
        Assert.All(answers, answer => Assert.Contains("{\"error\":\"the body did not arrive within 10 s\"}", answer, StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("evil.example")]
    [InlineData("evil.example:{port}")]
    [InlineData("127.0.0.1.nip.io:{port}")]
    [InlineData("127.0.0.1:1")]
    [InlineData("")]
    public async Task A_request_naming_another_host_is_refused_so_a_rebound_page_cannot_drive_it(string host)
    {
        string answer = await Raw($"GET /api/model HTTP/1.1\r\nHost: {host.Replace("{port}", Port, StringComparison.Ordinal)}\r\nConnection: close\r\n\r\n");
        Assert.StartsWith("HTTP/1.1 400 ", answer, StringComparison.Ordinal);
        Assert.Contains($"this server answers only requests for localhost:{Port}, 127.0.0.1:{Port} or [::1]:{Port}", Body(answer), StringComparison.Ordinal);
        Assert.DoesNotContain("network", answer, StringComparison.Ordinal);

        foreach (string own in new[] { $"localhost:{Port}", $"127.0.0.1:{Port}", $"LOCALHOST:{Port}", $"[::1]:{Port}" })
            Assert.StartsWith("HTTP/1.1 200 ", await Raw($"GET /api/model HTTP/1.1\r\nHost: {own}\r\nConnection: close\r\n\r\n"), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("DELETE", "/api/predict", 405, "DELETE is not allowed on /api/predict")]
    [InlineData("POST", "/api/model", 405, "POST is not allowed on /api/model")]
    [InlineData("PUT", "/", 405, "PUT is not allowed on /")]
    [InlineData("GET", "/api/nothing", 404, "no page or API route /api/nothing")]
    [InlineData("GET", "/api/predict", 405, "GET is not allowed on /api/predict")]
    public async Task A_wrong_method_or_route_gets_its_status_in_one_json_line(string method, string path, int expected, string message)
    {
        using var request = new HttpRequestMessage(new HttpMethod(method), path);
        using var response = await served.Client.SendAsync(request);
        Assert.Equal(expected, (int)response.StatusCode);
        string text = await response.Content.ReadAsStringAsync();
        Assert.Single(text.TrimEnd('\n').Split('\n'));
        Assert.StartsWith(message, JsonDocument.Parse(text).RootElement.GetProperty("error").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_key_given_twice_is_refused_not_read_as_the_last()
    {
        string values = JsonSerializer.Serialize(new float[784]);
        var (status, error) = await Post(Encoding.UTF8.GetBytes($"{{\"input\":{values},\"input\":{values}}}"), "application/json");
        Assert.Equal((400, "the key \"input\" appears 2 times; give it once"), (status, error));
    }

    [Fact]
    public async Task A_body_cut_short_and_half_closed_ends_its_connection_at_once_and_the_server_goes_on()
    {
        // Kestrel takes a client's FIN as the end of the connection (dotnet/aspnetcore#24462:
        // no widely used client closes before its answer), so there is nobody to answer: the
        // connection must end now, not hold a slot, and the next request be served (README).
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, served.Address.Port);
        var stream = client.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes($"POST /api/predict HTTP/1.1\r\nHost: 127.0.0.1:{Port}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n[0,0,0"));
        client.Client.Shutdown(SocketShutdown.Send);
        var clock = Stopwatch.StartNew();
        Assert.Equal("", await ReadAll(stream));
        Assert.InRange(clock.Elapsed, TimeSpan.Zero, TimeSpan.FromSeconds(5));

        var (status, digit) = await Post(File.ReadAllBytes(DigitPictures.LightOnDark(folder, 5, "five.png")), "image/png");
        Assert.Equal((200, Bundled.Mnist.Test.Labels[5].ToString(CultureInfo.InvariantCulture)), (status, digit));
    }

    private string Port => served.Address.Port.ToString(CultureInfo.InvariantCulture);

    /// <summary>The status and, for an error, its message; for a prediction, its digit.</summary>
    private async Task<(int Status, string Message)> Post(byte[] body, string contentType)
    {
        using var content = new ByteArrayContent(body);
        content.Headers.ContentType = new MediaTypeHeaderValue(contentType);
        using var response = await served.Client.PostAsync("api/predict", content);
        using var answer = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var root = answer.RootElement;
        return ((int)response.StatusCode, root.TryGetProperty("error", out var error) ? error.GetString()! : root.GetProperty("digit").GetInt32().ToString(CultureInfo.InvariantCulture));
    }

    /// <summary>A prediction whose body of <paramref name="declared"/> bytes comes at about 300 bytes a second: what the server answers, whole.</summary>
    private async Task<string> Trickle(int declared)
    {
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, served.Address.Port);
        var stream = client.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes($"POST /api/predict HTTP/1.1\r\nHost: 127.0.0.1:{Port}\r\nContent-Type: image/png\r\nContent-Length: {declared}\r\n\r\n"));
        var reading = ReadAll(stream);
        var chunk = new byte[30];
        try
        {
            while (!reading.IsCompleted)
            {
                await stream.WriteAsync(chunk);
                await Task.WhenAny(reading, Task.Delay(100));
            }
        }
        catch (IOException)
        {
            // The server closed the connection after its answer.
        }

        return await reading;
    }

    private async Task<string> Raw(string request)
    {
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, served.Address.Port);
        var stream = client.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes(request));
        return await ReadAll(stream);
    }

    private static async Task<string> ReadAll(NetworkStream stream)
    {
        using var answer = new MemoryStream();
        var buffer = new byte[4096];
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            int read;
            while ((read = await stream.ReadAsync(buffer, timeout.Token)) > 0)
                answer.Write(buffer, 0, read);
        }
        catch (IOException)
        {
            // A reset after the answer ends it as well.
        }

        return Encoding.UTF8.GetString(answer.ToArray());
    }

    private static string Body(string response) => response[(response.IndexOf("\r\n\r\n", StringComparison.Ordinal) + 4)..];
}
