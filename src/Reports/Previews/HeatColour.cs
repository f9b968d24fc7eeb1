using SixLabors.ImageSharp.PixelFormats;

namespace MnistGpu.Reports.Previews;

/// <summary>
/// The confusion matrix's colours, for confusion.png and the report's table alike: green on the
/// diagonal (right answers), red off it (mistakes), deeper the larger the count on a log scale —
/// a linear scale would show the diagonal and nothing else, since mistakes are 100 times rarer.
/// </summary>
internal static class HeatColour
{
    public static Rgba32 Cell(bool diagonal, int count, int largest)
    {
        double heat = count == 0 || largest == 0 ? 0 : Math.Log(1 + count) / Math.Log(1 + largest);
        return diagonal
            ? new Rgba32((byte)(20 + 30 * heat), (byte)(60 + 170 * heat), (byte)(40 + 60 * heat))
            : new Rgba32((byte)(40 + 215 * heat), (byte)(30 + 60 * heat), (byte)(40 + 30 * heat));
    }

    /// <summary>The colour as CSS writes it, e.g. #28e664.</summary>
    public static string Css(Rgba32 colour) => $"#{colour.R:x2}{colour.G:x2}{colour.B:x2}";
}
