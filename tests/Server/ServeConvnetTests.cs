using System.Net;
using System.Text.Json;

namespace MnistGpu.Tests.Server;

/// <summary>A convnet served: the page is told to show feature maps, and the API gives the first convolution's.</summary>
public sealed class ServeConvnetTests(ServedConvnet served) : IClassFixture<ServedConvnet>
{
    [Fact]
    public async Task The_first_layer_is_explained_by_its_feature_maps()
    {
        using var model = JsonDocument.Parse(await served.Client.GetStringAsync("api/model"));
        Assert.Equal("784-conv3x3:8-maxpool-flatten-32-10", model.RootElement.GetProperty("network").GetString());
        Assert.Equal("featureMaps", model.RootElement.GetProperty("explains").GetString());

        var (status, root) = await served.PostTestDigit("api/explain", 0);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(("featureMaps", 26, 26), (root.GetProperty("kind").GetString(), root.GetProperty("width").GetInt32(), root.GetProperty("height").GetInt32()));
        var pictures = root.GetProperty("pictures").EnumerateArray().ToList();
        Assert.Equal(Enumerable.Range(0, 8), pictures.Select(p => p.GetProperty("index").GetInt32()));
        foreach (var picture in pictures)
        {
            var values = picture.GetProperty("values").EnumerateArray().Select(v => v.GetSingle()).ToList();
            Assert.Equal(26 * 26, values.Count);
            Assert.All(values, v => Assert.True(v >= 0, "a feature map after ReLU"));
        }

        Assert.Contains(pictures, p => p.GetProperty("values").EnumerateArray().Select(v => v.GetSingle()).Distinct().Count() > 1);
    }
}
