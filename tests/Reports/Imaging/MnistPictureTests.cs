using MnistGpu.Reports.Imaging;
using MnistGpu.Tests.Support;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace MnistGpu.Tests.Reports.Imaging;

/// <summary>Which pictures are taken as MNIST samples pixel for pixel, and which are prepared as MNIST was made.</summary>
public sealed class MnistPictureTests
{
    [Fact]
    public void A_28x28_grey_white_on_black_picture_is_the_sample_itself()
    {
        for (int index = 0; index < 20; index++)
        {
            var sample = DigitImage.Decode("digit.png", DigitPictures.AsStored(index));
            Assert.Equal(Bundled.Mnist.Test.Images.AsSpan(index * 784, 784).ToArray().Select(b => b / 255f), sample);
        }
    }

    [Theory]
    [InlineData("dark on light")]
    [InlineData("coloured")]
    [InlineData("translucent")]
    [InlineData("29 wide")]
    public void Any_other_picture_is_prepared_as_mnist_was_made(string kind)
    {
        using var image = Image.Load<Rgba32>(DigitPictures.AsStored(3));
        if (kind == "29 wide")
        {
            using var wider = new Image<Rgba32>(29, 28, new Rgba32(0, 0, 0));
            for (int y = 0; y < 28; y++)
            {
                for (int x = 0; x < 28; x++)
                    wider[x, y] = image[x, y];
            }

            Assert.Null(DigitImage.AlreadyMnist(wider));
            return;
        }

        for (int y = 0; y < 28; y++)
        {
            for (int x = 0; x < 28; x++)
            {
                var p = image[x, y];
                image[x, y] = kind switch
                {
                    "dark on light" => new Rgba32((byte)(255 - p.R), (byte)(255 - p.G), (byte)(255 - p.B)),
                    "coloured" => new Rgba32(p.R, p.G, (byte)(p.B / 2)),
                    _ => new Rgba32(p.R, p.G, p.B, 200),
                };
            }
        }

        Assert.Null(DigitImage.AlreadyMnist(image));
        var prepared = DigitImage.Preprocess(image);
        Assert.NotNull(prepared);
        Assert.NotEqual(Bundled.Mnist.Test.Images.AsSpan(3 * 784, 784).ToArray().Select(b => b / 255f), prepared);
    }
}
