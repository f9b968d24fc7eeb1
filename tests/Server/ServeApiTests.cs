using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using MnistGpu.Tests.Support;

namespace MnistGpu.Tests.Server;

/// <summary><c>mnistgpu serve</c>'s API over HTTP, as a script or the page calls it.</summary>
[Collection(ServedSeedNetwork.Name)]
public sealed class ServeApiTests(ServedProcess served)
{
    [Fact]
    public async Task A_test_digit_posted_as_png_gets_the_digit_and_probabilities_predict_gives()
    {
        using var folder = new TempDirectory();
        foreach (int index in new[] { 0, 1, 2 })
        {
            string png = DigitPictures.LightOnDark(folder, index, $"digit{index}.png");
            var predict = CliRun.Run(["predict", "--model", served.Model, "--device", "host", "--json", png]);
            Assert.Equal(("", 0), (predict.Error, predict.Code));
            var expected = Assert.Single(JsonDocument.Parse(predict.Output).RootElement.EnumerateArray().ToList());

            var (status, answer) = await Post(File.ReadAllBytes(png), "image/png");
            Assert.Equal(HttpStatusCode.OK, status);
            Assert.Equal(expected.GetProperty("digit").GetInt32(), answer.GetProperty("digit").GetInt32());
            Assert.Equal(Top3(expected), Top3(answer));
            Assert.Equal(Bundled.Mnist.Test.Labels[index], answer.GetProperty("digit").GetInt32());
            var probabilities = answer.GetProperty("probabilities").EnumerateArray().Select(p => p.GetSingle()).ToList();
            Assert.Equal(10, probabilities.Count);
            Assert.Equal(Top3(answer)[0].Probability, probabilities.Max());
            Assert.Equal(784, answer.GetProperty("input").GetArrayLength());
        }
    }

    [Fact]
    public async Task Values_sent_as_json_are_the_input_as_is()
    {
        var values = Enumerable.Range(0, 784).Select(i => Bundled.Mnist.Test.Images[7 * 784 + i] / 255f).ToArray();
        var (status, answer) = await Post(Encoding.UTF8.GetBytes(JsonSerializer.Serialize(values)), "application/json");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(values, answer.GetProperty("input").EnumerateArray().Select(v => v.GetSingle()));
        Assert.Equal(Bundled.Mnist.Test.Labels[7], answer.GetProperty("digit").GetInt32());
        Assert.InRange(answer.GetProperty("probabilities").EnumerateArray().Sum(p => p.GetDouble()), 0.999, 1.001);
    }

    public static TheoryData<string, string, int> BadBodies => new()
    {
        { "empty", "image/png", 400 },
        { "10 MB of noise", "image/png", 413 },
        { "truncated PNG", "image/png", 400 },
        { "blank picture", "image/png", 400 },
        { "783 values", "application/json", 400 },
        { "NaN values", "application/json", 400 },
        { "a value of 1.5", "application/json", 400 },
        { "not JSON", "application/json", 400 },
        { "values", "text/plain", 415 },
        { "values", "", 415 },
    };

    [Theory]
    [MemberData(nameof(BadBodies))]
    public async Task A_bad_body_gets_its_status_in_one_json_line_and_the_next_good_request_succeeds(string body, string contentType, int expected)
    {
        using var folder = new TempDirectory();
        byte[] png = File.ReadAllBytes(DigitPictures.LightOnDark(folder, 3, "good.png"));
        byte[] bytes = body switch
        {
            "empty" => [],
            "10 MB of noise" => RandomBytes(10 << 20),
            "truncated PNG" => png[..(png.Length / 2)],
            "blank picture" => File.ReadAllBytes(Blank(folder)),
            "783 values" => Encoding.UTF8.GetBytes(JsonSerializer.Serialize(new float[783])),
            "NaN values" => Encoding.UTF8.GetBytes("[" + string.Join(",", Enumerable.Repeat("NaN", 784)) + "]"),
            "a value of 1.5" => Encoding.UTF8.GetBytes(JsonSerializer.Serialize(Enumerable.Repeat(1.5f, 784))),
            "not JSON" => png,
            _ => Encoding.UTF8.GetBytes(JsonSerializer.Serialize(new float[784])),
        };

        using var request = new HttpRequestMessage(HttpMethod.Post, "api/predict") { Content = new ByteArrayContent(bytes) };
        if (contentType.Length > 0)
            request.Content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        using var response = await served.Client.SendAsync(request);
        Assert.Equal(expected, (int)response.StatusCode);
        string text = await response.Content.ReadAsStringAsync();
        Assert.Equal(text.TrimEnd('\n'), Assert.Single(text.TrimEnd('\n').Split('\n')));
        string error = JsonDocument.Parse(text).RootElement.GetProperty("error").GetString()!;
        Assert.DoesNotContain(" at ", error, StringComparison.Ordinal);

        var (status, answer) = await Post(png, "image/png");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(Bundled.Mnist.Test.Labels[3], answer.GetProperty("digit").GetInt32());
    }

    [Fact]
    public async Task Two_hundred_concurrent_requests_all_answer_and_memory_stays_bounded()
    {
        using var folder = new TempDirectory();
        byte[] png = File.ReadAllBytes(DigitPictures.LightOnDark(folder, 4, "four.png"));
        var statuses = await Task.WhenAll(Enumerable.Range(0, 200).Select(async _ =>
        {
            using var content = new ByteArrayContent(png);
            content.Headers.ContentType = new MediaTypeHeaderValue("image/png");
            using var response = await served.Client.PostAsync("api/predict", content);
            return (int)response.StatusCode;
        }));
        Assert.All(statuses, s => Assert.True(s is 200 or 503, $"status {s}"));
        Assert.Contains(200, statuses);
        Assert.InRange(served.PeakBytes, 1, 300L << 20);
    }

    [Fact]
    public async Task The_model_is_described_and_explained_by_its_first_layer_units()
    {
        using var model = JsonDocument.Parse(await served.Client.GetStringAsync("api/model"));
        var description = model.RootElement;
        Assert.Equal("784-512-10", description.GetProperty("network").GetString());
        Assert.Equal(2, description.GetProperty("epochsTrained").GetInt32());
        Assert.InRange(description.GetProperty("testAccuracy").GetDouble(), 0.95, 1);
        Assert.StartsWith("RMSprop", description.GetProperty("optimizer").GetString(), StringComparison.Ordinal);
        Assert.Equal("units", description.GetProperty("explains").GetString());

        var (status, explanation) = await served.PostTestDigit("api/explain", 0);
        Assert.Equal(HttpStatusCode.OK, status);
        var pictures = explanation.GetProperty("pictures").EnumerateArray().ToList();
        Assert.Equal((28, 28), (explanation.GetProperty("width").GetInt32(), explanation.GetProperty("height").GetInt32()));
        Assert.Equal(8, pictures.Count);
        Assert.All(pictures, p => Assert.Equal(784, p.GetProperty("values").GetArrayLength()));
        var contributions = pictures.Select(p => p.GetProperty("contribution").GetDouble()).ToList();
        Assert.Equal(contributions.OrderByDescending(c => c), contributions);
        Assert.True(contributions[0] > 0);
    }

    [Theory]
    [InlineData("/", "text/html", "<canvas id=\"pad\"")]
    [InlineData("/page.js", "text/javascript", "/api/predict")]
    [InlineData("/page.css", "text/css", "#pad")]
    public async Task The_page_is_served_from_the_program_alone(string path, string type, string content)
    {
        using var response = await served.Client.GetAsync(new Uri(served.Address, path));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(type, response.Content.Headers.ContentType!.MediaType);
        Assert.StartsWith("default-src 'self'", response.Headers.GetValues("Content-Security-Policy").Single(), StringComparison.Ordinal);
        string text = await response.Content.ReadAsStringAsync();
        Assert.Contains(content, text, StringComparison.Ordinal);
        Assert.DoesNotContain("http://", text, StringComparison.Ordinal);
        Assert.DoesNotContain("https://", text, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("/index.html")]
    [InlineData("/Page/page.js")]
    [InlineData("/../../../../etc/passwd")]
    [InlineData("/%2e%2e/%2e%2e/etc/passwd")]
    [InlineData("/page.js/..%2f..%2fappsettings.json")]
    [InlineData("/mnistgpu.dll")]
    [InlineData("/api/nothing")]
    public async Task No_file_on_disk_is_reachable(string path)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, served.Address.GetLeftPart(UriPartial.Authority) + path);
        using var response = await served.Client.SendAsync(request);
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.DoesNotContain("root:", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    private async Task<(HttpStatusCode Status, JsonElement Answer)> Post(byte[] body, string contentType)
    {
        using var content = new ByteArrayContent(body);
        content.Headers.ContentType = new MediaTypeHeaderValue(contentType);
        using var response = await served.Client.PostAsync("api/predict", content);
        return (response.StatusCode, JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone());
    }

    private static List<(int Digit, float Probability)> Top3(JsonElement prediction) =>
        [.. prediction.GetProperty("top3").EnumerateArray().Select(c => (c.GetProperty("digit").GetInt32(), c.GetProperty("probability").GetSingle()))];

    private static byte[] RandomBytes(int count)
    {
        var bytes = new byte[count];
        new Random(1).NextBytes(bytes);
        return bytes;
    }

    private static string Blank(TempDirectory folder) => DigitPictures.Blank(folder, "blank.png");
}
