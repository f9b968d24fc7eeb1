using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace MnistGpu.Reports.Previews;

/// <summary>
/// A 3×5-pixel font for digits, a few symbols and the capitals the reports need, drawn pixel by
/// pixel (ImageSharp.Drawing, which renders text, is not available). Unknown characters draw
/// as blanks.
/// </summary>
internal static class BitmapFont
{
    public const int GlyphWidth = 3;
    public const int GlyphHeight = 5;

    private static readonly Dictionary<char, string[]> Glyphs = new()
    {
        ['0'] = ["111", "101", "101", "101", "111"],
        ['1'] = ["010", "110", "010", "010", "111"],
        ['2'] = ["111", "001", "111", "100", "111"],
        ['3'] = ["111", "001", "111", "001", "111"],
        ['4'] = ["101", "101", "111", "001", "001"],
        ['5'] = ["111", "100", "111", "001", "111"],
        ['6'] = ["111", "100", "111", "101", "111"],
        ['7'] = ["111", "001", "010", "010", "010"],
        ['8'] = ["111", "101", "111", "101", "111"],
        ['9'] = ["111", "101", "111", "001", "111"],
        ['%'] = ["101", "001", "010", "100", "101"],
        ['.'] = ["000", "000", "000", "000", "010"],
        ['-'] = ["000", "000", "111", "000", "000"],
        ['>'] = ["100", "010", "001", "010", "100"],
        [':'] = ["000", "010", "000", "010", "000"],
        ['/'] = ["001", "001", "010", "100", "100"],
        ['A'] = ["010", "101", "111", "101", "101"],
        ['C'] = ["011", "100", "100", "100", "011"],
        ['D'] = ["110", "101", "101", "101", "110"],
        ['E'] = ["111", "100", "110", "100", "111"],
        ['H'] = ["101", "101", "111", "101", "101"],
        ['I'] = ["111", "010", "010", "010", "111"],
        ['L'] = ["100", "100", "100", "100", "111"],
        ['N'] = ["110", "101", "101", "101", "101"],
        ['O'] = ["010", "101", "101", "101", "010"],
        ['P'] = ["110", "101", "110", "100", "100"],
        ['R'] = ["110", "101", "110", "101", "101"],
        ['S'] = ["011", "100", "010", "001", "110"],
        ['T'] = ["111", "010", "010", "010", "010"],
        ['U'] = ["101", "101", "101", "101", "111"],
        ['Y'] = ["101", "101", "010", "010", "010"],
    };

    /// <summary>Width in pixels of <paramref name="text"/> at <paramref name="scale"/>, one blank column between glyphs.</summary>
    public static int Measure(string text, int scale) => text.Length == 0 ? 0 : (text.Length * (GlyphWidth + 1) - 1) * scale;

    /// <summary>Draws <paramref name="text"/> with its top-left corner at (x, y), clipped to the image.</summary>
    public static void Draw(Image<Rgba32> image, string text, int x, int y, int scale, Rgba32 color)
    {
        foreach (char c in text)
        {
            if (Glyphs.TryGetValue(char.ToUpperInvariant(c), out string[]? rows))
            {
                for (int row = 0; row < GlyphHeight; row++)
                {
                    for (int col = 0; col < GlyphWidth; col++)
                    {
                        if (rows[row][col] == '1')
                            Canvas.Fill(image, x + col * scale, y + row * scale, scale, scale, color);
                    }
                }
            }

            x += (GlyphWidth + 1) * scale;
        }
    }
}
