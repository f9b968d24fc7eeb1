using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace MnistGpu.Reports.Previews;

/// <summary>The few pixel operations the report images are drawn with.</summary>
internal static class Canvas
{
    public static void Fill(Image<Rgba32> image, int x, int y, int width, int height, Rgba32 color)
    {
        for (int py = Math.Max(0, y); py < Math.Min(image.Height, y + height); py++)
        {
            for (int px = Math.Max(0, x); px < Math.Min(image.Width, x + width); px++)
                image[px, py] = color;
        }
    }

    /// <summary>A line of the given thickness (Bresenham, stamping a square at every step).</summary>
    public static void Line(Image<Rgba32> image, int x0, int y0, int x1, int y1, int thickness, Rgba32 color)
    {
        int dx = Math.Abs(x1 - x0), dy = -Math.Abs(y1 - y0);
        int sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1;
        int error = dx + dy;
        while (true)
        {
            Fill(image, x0 - thickness / 2, y0 - thickness / 2, thickness, thickness, color);
            if (x0 == x1 && y0 == y1)
                return;
            int doubled = 2 * error;
            if (doubled >= dy)
            {
                error += dy;
                x0 += sx;
            }

            if (doubled <= dx)
            {
                error += dx;
                y0 += sy;
            }
        }
    }

    /// <summary>A 28×28 digit (bytes, white ink on black) enlarged <paramref name="scale"/> times, at (x, y).</summary>
    public static void Digit(Image<Rgba32> image, ReadOnlySpan<byte> pixels, int side, int x, int y, int scale)
    {
        for (int row = 0; row < side; row++)
        {
            for (int col = 0; col < side; col++)
            {
                byte v = pixels[row * side + col];
                Fill(image, x + col * scale, y + row * scale, scale, scale, new Rgba32(v, v, v));
            }
        }
    }
}
