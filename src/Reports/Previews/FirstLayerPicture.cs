using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace MnistGpu.Reports.Previews;

/// <summary>
/// A convnet's first layer as pictures: its kernels (orange where a weight is positive, blue
/// where negative, on one scale for all) and one digit beside the feature maps it makes (white
/// for the largest activation of all maps), eight to a row.
/// </summary>
internal static class FirstLayerPicture
{
    public const int Columns = 8;
    private const int Gap = 6;
    private const int KernelCell = 14;
    private const int MapZoom = 3;
    private static readonly Rgba32 Background = new(32, 32, 40);

    public static Image<Rgba32> Kernels(FirstLayerPictures first)
    {
        var layer = first.Layer;
        int k = layer.KernelSize, channels = layer.Input.Channels, filters = layer.Filters;
        int tile = k * KernelCell;
        var image = Grid(filters, tile, tile * channels);
        float largest = Math.Max(first.Kernels.Max(Math.Abs), float.Epsilon);
        for (int f = 0; f < filters; f++)
        {
            var (x, y) = Origin(f, tile, tile * channels);
            for (int c = 0; c < channels; c++)
            {
                for (int i = 0; i < k; i++)
                {
                    for (int j = 0; j < k; j++)
                    {
                        float w = first.Kernels[((i * k + j) * channels + c) * filters + f] / largest;
                        Canvas.Fill(image, x + j * KernelCell, y + (c * k + i) * KernelCell, KernelCell, KernelCell, Diverging(w));
                    }
                }
            }
        }

        return image;
    }

    /// <summary>The digit first (its 28×28 pixels), then each filter's map.</summary>
    public static Image<Rgba32> FeatureMaps(FirstLayerPictures first, ReadOnlySpan<byte> digit, int side)
    {
        var output = first.Layer.Output;
        int width = output.Width * MapZoom, height = output.Height * MapZoom, filters = output.Channels;
        var image = Grid(filters + 1, Math.Max(width, side * MapZoom), Math.Max(height, side * MapZoom));
        Canvas.Digit(image, digit, side, Gap, Gap, MapZoom);
        float largest = Math.Max(first.Maps.Max(), float.Epsilon);
        for (int f = 0; f < filters; f++)
        {
            var (x, y) = Origin(f + 1, Math.Max(width, side * MapZoom), Math.Max(height, side * MapZoom));
            for (int row = 0; row < output.Height; row++)
            {
                for (int col = 0; col < output.Width; col++)
                {
                    byte v = (byte)Math.Clamp(first.Maps[(row * output.Width + col) * filters + f] / largest * 255f, 0f, 255f);
                    Canvas.Fill(image, x + col * MapZoom, y + row * MapZoom, MapZoom, MapZoom, new Rgba32(v, v, v));
                }
            }
        }

        return image;
    }

    private static Image<Rgba32> Grid(int tiles, int tileWidth, int tileHeight)
    {
        int rows = (tiles + Columns - 1) / Columns;
        return new Image<Rgba32>(Gap + Math.Min(tiles, Columns) * (tileWidth + Gap), Gap + rows * (tileHeight + Gap), Background);
    }

    private static (int X, int Y) Origin(int tile, int tileWidth, int tileHeight) =>
        (Gap + tile % Columns * (tileWidth + Gap), Gap + tile / Columns * (tileHeight + Gap));

    /// <summary>−1 → blue, 0 → black, 1 → orange.</summary>
    private static Rgba32 Diverging(float value) => value >= 0
        ? new Rgba32((byte)(255 * value), (byte)(150 * value), (byte)(40 * value))
        : new Rgba32((byte)(60 * -value), (byte)(140 * -value), (byte)(255 * -value));
}
