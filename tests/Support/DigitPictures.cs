using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using SixLabors.ImageSharp.Processing;

namespace MnistGpu.Tests.Support;

/// <summary>Pictures of digits for prediction tests, made from MNIST test samples.</summary>
internal static class DigitPictures
{
    /// <summary>Test sample <paramref name="index"/>, enlarged four times, white on black like MNIST, as PNG.</summary>
    public static string LightOnDark(TempDirectory folder, int index, string name) =>
        Save(folder, name, Sample(index, invert: false));

    /// <summary>The same sample dark on a light background, as people draw, as JPEG.</summary>
    public static string DarkOnLight(TempDirectory folder, int index, string name) =>
        Save(folder, name, Sample(index, invert: true));

    public static string Blank(TempDirectory folder, string name) =>
        Save(folder, name, new Image<L8>(40, 40, new L8(255)));

    public static string Sized(TempDirectory folder, int width, int height, string name) =>
        Save(folder, name, new Image<L8>(width, height, new L8(0)));

    /// <summary>Test sample <paramref name="index"/> exactly as MNIST stores it: 28×28 grey, white on black, as PNG bytes.</summary>
    public static byte[] AsStored(int index)
    {
        using var image = Raw(index);
        using var png = new MemoryStream();
        image.SaveAsPng(png);
        return png.ToArray();
    }

    /// <summary>Test sample <paramref name="index"/>, white on black, enlarged to <paramref name="side"/>×<paramref name="side"/>, as PNG.</summary>
    public static string Enlarged(TempDirectory folder, int index, int side, string name)
    {
        var image = Sample(index, invert: false);
        image.Mutate(c => c.Resize(side, side, KnownResamplers.Bicubic));
        return Save(folder, name, image);
    }

    private static Image<L8> Raw(int index)
    {
        var test = Bundled.Mnist.Test;
        var image = new Image<L8>(28, 28);
        for (int y = 0; y < 28; y++)
        {
            for (int x = 0; x < 28; x++)
                image[x, y] = new L8(test.Images[index * 784 + y * 28 + x]);
        }

        return image;
    }

    private static Image<L8> Sample(int index, bool invert)
    {
        var image = Raw(index);
        if (invert)
        {
            for (int y = 0; y < 28; y++)
            {
                for (int x = 0; x < 28; x++)
                    image[x, y] = new L8((byte)(255 - image[x, y].PackedValue));
            }
        }

        image.Mutate(c => c.Resize(112, 112, KnownResamplers.Bicubic));
        return image;
    }

    private static string Save(TempDirectory folder, string name, Image<L8> image)
    {
        using (image)
        {
            string path = folder.File(name);
            image.Save(path);
            return path;
        }
    }
}
