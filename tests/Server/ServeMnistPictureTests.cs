using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using MnistGpu.Engine.Backends.Host;
using MnistGpu.Engine.Training;
using MnistGpu.Tests.Support;

namespace MnistGpu.Tests.Server;

/// <summary>
/// A picture that already is an MNIST sample (28×28, grey, white on black) is the network's input
/// pixel for pixel, so serve answers it as the network answers the raw digit; pictures come as
/// the body or as the first file of a multipart upload; messages read as written.
/// </summary>
[Collection(ServedSeedNetwork.Name)]
public sealed class ServeMnistPictureTests(ServedProcess served)
{
    [Fact]
    public async Task The_first_200_test_digits_posted_as_28x28_pngs_get_the_answers_of_the_raw_digits()
    {
        const int Digits = 200;
        using var device = new HostBackend(threads: 1);
        using var network = new TrainedNetwork(device, Checkpoint.Load(served.Model));
        var raw = network.Evaluate(Bundled.Mnist.Test.Take(Digits)).Predictions;

        var answers = new int[Digits];
        for (int i = 0; i < Digits; i++)
        {
            using var content = new ByteArrayContent(DigitPictures.AsStored(i));
            content.Headers.ContentType = new MediaTypeHeaderValue("image/png");
            using var response = await served.Client.PostAsync("api/predict", content);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            using var answer = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            answers[i] = answer.RootElement.GetProperty("digit").GetInt32();
            var input = answer.RootElement.GetProperty("input").EnumerateArray().Select(v => v.GetSingle()).ToArray();
            Assert.Equal(Bundled.Mnist.Test.Images.AsSpan(i * 784, 784).ToArray().Select(b => b / 255f), input);
        }

        Assert.Equal(raw, answers);
    }

    [Theory]
    [InlineData("file", "digit.png")]
    [InlineData("picture", "x")]
    public async Task A_multipart_upload_is_read_from_its_first_file_part(string field, string fileName)
    {
        using var form = new MultipartFormDataContent
        {
            { new StringContent("a note"), "comment" },
            { new ByteArrayContent(DigitPictures.AsStored(7)), field, fileName },
        };
        using var response = await served.Client.PostAsync("api/predict", form);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var answer = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal(Bundled.Mnist.Test.Labels[7], answer.RootElement.GetProperty("digit").GetInt32());
    }

    [Fact]
    public async Task A_multipart_upload_without_a_file_is_400_and_messages_keep_their_apostrophes()
    {
        using var form = new MultipartFormDataContent { { new StringContent("no picture here"), "comment" } };
        using var response = await served.Client.PostAsync("api/predict", form);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("has no file part", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        using var text = new StringContent("hello");
        using var refused = await served.Client.PostAsync("api/predict", text);
        string body = await refused.Content.ReadAsStringAsync();
        Assert.Contains("content type 'text/plain' is not accepted", body, StringComparison.Ordinal);
        Assert.DoesNotContain("\\u0027", body, StringComparison.Ordinal);
    }
}
