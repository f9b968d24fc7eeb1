using System.Globalization;
using MnistGpu.Engine.Data;
using MnistGpu.Engine.Training;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace MnistGpu.Reports.Previews;

/// <summary>
/// The PNG previews, drawn with plain pixel operations and the 3×5 bitmap font: the contact
/// sheet of mistakes, one picture per mistake, the confusion matrix and the curves.
/// </summary>
internal static class PreviewPictures
{
    /// <summary>Each digit is enlarged this many times.</summary>
    public const int Zoom = 5;

    public const int TilePadding = 6;

    /// <summary>Captions are drawn with 4×4-pixel font dots: 20 pixels high, readable without zooming in.</summary>
    public const int CaptionScale = 4;

    public const int CaptionHeight = BitmapFont.GlyphHeight * CaptionScale + 10;

    public const int SheetColumns = 10;

    public const int TextScale = 2;

    public static readonly Rgba32 TrainColour = new(80, 150, 255);
    public static readonly Rgba32 TestColour = new(255, 160, 40);

    private static readonly Rgba32 Background = new(32, 32, 40);
    private static readonly Rgba32 Text = new(235, 235, 235);
    private static readonly Rgba32 Faint = new(80, 80, 92);
    private static readonly Rgba32 Wrong = new(255, 110, 90);

    /// <summary>Top-left corner of tile <paramref name="tile"/> on the contact sheet.</summary>
    public static (int X, int Y) TileOrigin(int tile, int side) =>
        (TilePadding + tile % SheetColumns * (side * Zoom + TilePadding),
         TilePadding + tile / SheetColumns * (side * Zoom + CaptionHeight + TilePadding));

    public static Image<Rgba32> ContactSheet(IReadOnlyList<Mistake> mistakes, LabeledImages testSet)
    {
        int side = testSet.Rows;
        int rows = Math.Max(1, (mistakes.Count + SheetColumns - 1) / SheetColumns);
        int width = TilePadding + SheetColumns * (side * Zoom + TilePadding);
        int height = TilePadding + rows * (side * Zoom + CaptionHeight + TilePadding);
        var image = new Image<Rgba32>(width, height, Background);
        for (int i = 0; i < mistakes.Count; i++)
        {
            var (x, y) = TileOrigin(i, side);
            DrawTile(image, mistakes[i], testSet, x, y);
        }

        return image;
    }

    public static Image<Rgba32> Single(Mistake mistake, LabeledImages testSet)
    {
        int side = testSet.Rows;
        var image = new Image<Rgba32>(side * Zoom, side * Zoom + CaptionHeight, Background);
        DrawTile(image, mistake, testSet, 0, 0);
        return image;
    }

    /// <summary>Rows: true class; columns: predicted class; each cell coloured by its count and the count written in.</summary>
    public static Image<Rgba32> Confusion(int[,] matrix)
    {
        const int cell = 48, left = 60, top = 60;
        int classes = matrix.GetLength(0);
        int grid = classes * cell;
        var image = new Image<Rgba32>(left + grid + 12, top + grid + 12, Background);
        int largest = matrix.Cast<int>().Max();

        // Axis names outside the grid: PRED centred above the column digits, TRUE down the left edge.
        BitmapFont.Draw(image, "PRED", left + (grid - BitmapFont.Measure("PRED", TextScale)) / 2, 8, TextScale, Text);
        int trueTop = top + (grid - 4 * (BitmapFont.GlyphHeight + 2) * TextScale) / 2;
        for (int i = 0; i < "TRUE".Length; i++)
            BitmapFont.Draw(image, "TRUE"[i].ToString(), 8, trueTop + i * (BitmapFont.GlyphHeight + 2) * TextScale, TextScale, Text);
        for (int c = 0; c < classes; c++)
        {
            string digit = c.ToString(CultureInfo.InvariantCulture);
            BitmapFont.Draw(image, digit, left + c * cell + (cell - BitmapFont.Measure(digit, TextScale)) / 2, top - 20, TextScale, Text);
            BitmapFont.Draw(image, digit, left - 18, top + c * cell + (cell - BitmapFont.GlyphHeight * TextScale) / 2, TextScale, Text);
        }

        for (int t = 0; t < classes; t++)
        {
            for (int p = 0; p < classes; p++)
            {
                int count = matrix[t, p];
                Canvas.Fill(image, left + p * cell + 1, top + t * cell + 1, cell - 2, cell - 2, HeatColour.Cell(t == p, count, largest));
                string text = count.ToString(CultureInfo.InvariantCulture);
                int scale = BitmapFont.Measure(text, TextScale) <= cell - 6 ? TextScale : 1;
                BitmapFont.Draw(image, text, left + p * cell + (cell - BitmapFont.Measure(text, scale)) / 2, top + t * cell + (cell - BitmapFont.GlyphHeight * scale) / 2, scale, Text);
            }
        }

        return image;
    }

    /// <summary>Loss and accuracy per epoch, train in blue and test in orange, each point marked and the last one's value written.</summary>
    public static Image<Rgba32> Curves(IReadOnlyList<EpochResult> history)
    {
        var panels = CurvePanel.Both(history);
        var image = new Image<Rgba32>(panels.Count * CurvePanel.Width, CurvePanel.Height, Background);
        foreach (var panel in panels)
            DrawPanel(image, panel);
        int legendY = CurvePanel.Height - 18;
        Canvas.Fill(image, CurvePanel.PlotLeft, legendY, 16, 10, TrainColour);
        BitmapFont.Draw(image, "TRAIN", CurvePanel.PlotLeft + 22, legendY, TextScale, Text);
        Canvas.Fill(image, CurvePanel.PlotLeft + 100, legendY, 16, 10, TestColour);
        BitmapFont.Draw(image, "TEST", CurvePanel.PlotLeft + 122, legendY, TextScale, Text);
        return image;
    }

    private static void DrawTile(Image<Rgba32> image, Mistake mistake, LabeledImages testSet, int x, int y)
    {
        int side = testSet.Rows;
        Canvas.Digit(image, testSet.Images.AsSpan(mistake.Index * testSet.Pixels, testSet.Pixels), side, x, y, Zoom);
        BitmapFont.Draw(image, mistake.Caption, x + 2, y + side * Zoom + 5, CaptionScale, Wrong);
    }

    private static void DrawPanel(Image<Rgba32> image, CurvePanel panel)
    {
        int x0 = panel.AxisX, y0 = CurvePanel.AxisY;
        BitmapFont.Draw(image, panel.Title, x0, 12, TextScale, Text);
        foreach (double tick in panel.ValueTicks)
        {
            int y = panel.Y(tick);
            Canvas.Line(image, x0, y, x0 + CurvePanel.PlotWidth, y, 1, Faint);
            string label = panel.Format(tick);
            BitmapFont.Draw(image, label, x0 - 8 - BitmapFont.Measure(label, TextScale), y - BitmapFont.GlyphHeight * TextScale / 2, TextScale, Text);
        }

        Canvas.Line(image, x0, CurvePanel.PlotTop, x0, y0, 1, Text);
        Canvas.Line(image, x0, y0, x0 + CurvePanel.PlotWidth, y0, 1, Text);
        foreach (int epoch in panel.EpochTicks)
        {
            string label = panel.EpochNumbers[epoch].ToString(CultureInfo.InvariantCulture);
            Canvas.Line(image, panel.X(epoch), y0, panel.X(epoch), y0 + 5, 1, Text);
            BitmapFont.Draw(image, label, panel.X(epoch) - BitmapFont.Measure(label, TextScale) / 2, y0 + 9, TextScale, Text);
        }

        BitmapFont.Draw(image, "EPOCH", x0 + CurvePanel.PlotWidth - BitmapFont.Measure("EPOCH", TextScale), y0 + 24, TextScale, Text);
        Plot(panel.Train, TrainColour);
        Plot(panel.Test, TestColour);
        foreach (var label in panel.EndLabels(text => BitmapFont.Measure(text, TextScale), BitmapFont.GlyphHeight * TextScale))
            BitmapFont.Draw(image, label.Text, label.Left, label.Top, TextScale, label.IsTrain ? TrainColour : TestColour);

        void Plot(IReadOnlyList<double?> series, Rgba32 colour)
        {
            (int X, int Y)? previous = null;
            int lastEpoch = -1;
            foreach (var (epoch, value) in CurvePanel.Points(series))
            {
                var point = (panel.X(epoch), panel.Y(value));
                if (previous is var (px, py) && epoch == lastEpoch + 1)
                    Canvas.Line(image, px, py, point.Item1, point.Item2, 2, colour);
                Canvas.Fill(image, point.Item1 - 4, point.Item2 - 4, 9, 9, colour);
                previous = point;
                lastEpoch = epoch;
            }
        }
    }
}
