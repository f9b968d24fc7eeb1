using System.Globalization;
using System.Net;
using System.Text;
using MnistGpu.Engine.Data;
using MnistGpu.Engine.IO;
using MnistGpu.Engine.Training;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace MnistGpu.Reports.Previews;

/// <summary>
/// Writes what people look at after training: a contact sheet of the misclassified test digits
/// (most confident mistakes first), one picture per mistake, the confusion matrix as a heat map,
/// loss and accuracy curves, a CSV of the mistakes and a self-contained HTML page tying them
/// together. Everything is drawn with plain pixel operations.
/// </summary>
public static class PreviewWriter
{
    public const string ContactSheet = "misclassified.png";
    public const string MistakeFolder = "misclassified";
    public const string Confusion = "confusion.png";
    public const string Curves = "curves.png";
    public const string Csv = "misclassified.csv";
    public const string Html = "report.html";

    /// <summary>Each digit on the contact sheet is enlarged this many times.</summary>
    public const int Zoom = 4;
    public const int TilePadding = 4;
    public const int CaptionHeight = 16;
    public const int SheetColumns = 10;

    private static readonly Rgba32 Background = new(32, 32, 40);
    private static readonly Rgba32 Text = new(235, 235, 235);
    private static readonly Rgba32 Wrong = new(255, 110, 90);
    private static readonly Rgba32 TrainColour = new(80, 150, 255);
    private static readonly Rgba32 TestColour = new(255, 160, 40);

    /// <returns>The paths written.</returns>
    /// <exception cref="EngineException">A file or the folders could not be written.</exception>
    public static IReadOnlyList<string> Write(string folder, RunReport run, LabeledImages testSet, int sheetLimit = 100)
    {
        try
        {
            Directory.CreateDirectory(Path.Combine(folder, MistakeFolder));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw OutputFile.WriteFailure(folder, e);
        }

        int classes = MnistData.Classes;
        var mistakes = Mistake.All(run.Test, classes);
        var written = new List<string>
        {
            Save(DrawContactSheet(mistakes.Take(sheetLimit).ToList(), testSet), Path.Combine(folder, ContactSheet)),
            Save(DrawConfusion(run.Test.ConfusionMatrix(classes)), Path.Combine(folder, Confusion)),
            Save(DrawCurves(run.History), Path.Combine(folder, Curves)),
        };
        foreach (var mistake in mistakes)
            written.Add(Save(DrawSingle(mistake, testSet), Path.Combine(folder, MistakeFolder, mistake.FileName)));

        written.Add(WriteText(Path.Combine(folder, Csv), CsvOf(mistakes)));
        written.Add(WriteText(Path.Combine(folder, Html), HtmlOf(run, mistakes, sheetLimit, classes)));
        return written;
    }

    /// <summary>Top-left corner of tile <paramref name="tile"/> on the contact sheet.</summary>
    public static (int X, int Y) TileOrigin(int tile, int side) =>
        (TilePadding + tile % SheetColumns * (side * Zoom + TilePadding),
         TilePadding + tile / SheetColumns * (side * Zoom + CaptionHeight + TilePadding));

    private static Image<Rgba32> DrawContactSheet(List<Mistake> mistakes, LabeledImages testSet)
    {
        int side = testSet.Rows;
        int rows = Math.Max(1, (mistakes.Count + SheetColumns - 1) / SheetColumns);
        int width = TilePadding + SheetColumns * (side * Zoom + TilePadding);
        int height = TilePadding + rows * (side * Zoom + CaptionHeight + TilePadding);
        var image = new Image<Rgba32>(width, height, Background);
        for (int i = 0; i < mistakes.Count; i++)
        {
            var (x, y) = TileOrigin(i, side);
            Canvas.Digit(image, Pixels(testSet, mistakes[i].Index), side, x, y, Zoom);
            BitmapFont.Draw(image, mistakes[i].Caption, x + 2, y + side * Zoom + 3, 2, Wrong);
        }

        return image;
    }

    private static Image<Rgba32> DrawSingle(Mistake mistake, LabeledImages testSet)
    {
        int side = testSet.Rows;
        var image = new Image<Rgba32>(side * Zoom, side * Zoom + CaptionHeight, Background);
        Canvas.Digit(image, Pixels(testSet, mistake.Index), side, 0, 0, Zoom);
        BitmapFont.Draw(image, mistake.Caption, 2, side * Zoom + 3, 2, Wrong);
        return image;
    }

    /// <summary>Rows: true class; columns: predicted class; colour by count on a log scale, the count written in.</summary>
    private static Image<Rgba32> DrawConfusion(int[,] matrix)
    {
        const int cell = 44, margin = 40;
        int classes = matrix.GetLength(0);
        var image = new Image<Rgba32>(margin + classes * cell + 8, margin + classes * cell + 8, Background);
        int max = matrix.Cast<int>().Max();
        BitmapFont.Draw(image, "PRED", margin, 4, 2, Text);
        BitmapFont.Draw(image, "TRUE", 2, 4, 2, Text);
        for (int c = 0; c < classes; c++)
        {
            string digit = c.ToString(CultureInfo.InvariantCulture);
            BitmapFont.Draw(image, digit, margin + c * cell + cell / 2 - 3, margin - 14, 2, Text);
            BitmapFont.Draw(image, digit, margin - 14, margin + c * cell + cell / 2 - 5, 2, Text);
        }

        for (int t = 0; t < classes; t++)
        {
            for (int p = 0; p < classes; p++)
            {
                int count = matrix[t, p];
                double heat = count == 0 ? 0 : Math.Log(1 + count) / Math.Log(1 + max);
                var colour = t == p
                    ? new Rgba32((byte)(20 + 30 * heat), (byte)(60 + 170 * heat), (byte)(40 + 60 * heat))
                    : new Rgba32((byte)(40 + 215 * heat), (byte)(30 + 60 * heat), (byte)(40 + 30 * heat));
                Canvas.Fill(image, margin + p * cell + 1, margin + t * cell + 1, cell - 2, cell - 2, colour);
                string text = count.ToString(CultureInfo.InvariantCulture);
                int scale = BitmapFont.Measure(text, 2) <= cell - 6 ? 2 : 1;
                BitmapFont.Draw(image, text, margin + p * cell + (cell - BitmapFont.Measure(text, scale)) / 2, margin + t * cell + (cell - 5 * scale) / 2, scale, Text);
            }
        }

        return image;
    }

    /// <summary>Two panels, loss and accuracy per epoch, train in blue and test in orange.</summary>
    private static Image<Rgba32> DrawCurves(IReadOnlyList<EpochResult> history)
    {
        const int panelWidth = 420, panelHeight = 280, margin = 52;
        var image = new Image<Rgba32>(2 * panelWidth, panelHeight + 30, Background);
        DrawPanel(image, 0, "LOSS", history.Select(h => (double?)h.Loss).ToList(), history.Select(h => h.TestLoss).ToList());
        DrawPanel(image, panelWidth, "ACCURACY", history.Select(h => (double?)h.Accuracy).ToList(), history.Select(h => h.TestAccuracy).ToList());
        Canvas.Fill(image, margin, panelHeight + 10, 14, 10, TrainColour);
        BitmapFont.Draw(image, "TRAIN", margin + 20, panelHeight + 10, 2, Text);
        Canvas.Fill(image, margin + 90, panelHeight + 10, 14, 10, TestColour);
        BitmapFont.Draw(image, "TEST", margin + 110, panelHeight + 10, 2, Text);
        return image;

        void DrawPanel(Image<Rgba32> target, int left, string title, List<double?> train, List<double?> test)
        {
            int x0 = left + margin, y0 = 30, width = panelWidth - margin - 16, height = panelHeight - y0 - 30;
            BitmapFont.Draw(target, title, x0, 8, 2, Text);
            var values = train.Concat(test).OfType<double>().Where(double.IsFinite).ToList();
            double low = values.Count == 0 ? 0 : values.Min(), high = values.Count == 0 ? 1 : values.Max();
            if (high - low < 1e-9)
            {
                low -= 0.5;
                high += 0.5;
            }

            Canvas.Line(target, x0, y0, x0, y0 + height, 1, Text);
            Canvas.Line(target, x0, y0 + height, x0 + width, y0 + height, 1, Text);
            BitmapFont.Draw(target, Format(high), left + 2, y0 - 4, 2, Text);
            BitmapFont.Draw(target, Format(low), left + 2, y0 + height - 6, 2, Text);
            int epochs = train.Count;
            for (int e = 0; e < epochs; e++)
                BitmapFont.Draw(target, (e + 1).ToString(CultureInfo.InvariantCulture), X(e) - 2, y0 + height + 6, 2, Text);
            Plot(train, TrainColour);
            Plot(test, TestColour);

            int X(int epoch) => x0 + (epochs <= 1 ? width / 2 : epoch * width / (epochs - 1));
            int Y(double value) => y0 + height - (int)Math.Round((value - low) / (high - low) * height);

            void Plot(List<double?> series, Rgba32 colour)
            {
                (int X, int Y)? previous = null;
                for (int e = 0; e < series.Count; e++)
                {
                    if (series[e] is not double value || !double.IsFinite(value))
                    {
                        previous = null;
                        continue;
                    }

                    var point = (X(e), Y(value));
                    if (previous is var (px, py))
                        Canvas.Line(target, px, py, point.Item1, point.Item2, 2, colour);
                    Canvas.Fill(target, point.Item1 - 3, point.Item2 - 3, 7, 7, colour);
                    previous = point;
                }
            }
        }

        static string Format(double value) => value.ToString(value >= 10 ? "0" : "0.000", CultureInfo.InvariantCulture);
    }

    private static string CsvOf(IReadOnlyList<Mistake> mistakes)
    {
        var csv = new StringBuilder("index,true,predicted,confidence,top3\n");
        foreach (var m in mistakes)
        {
            string top3 = string.Join(' ', m.Top3.Select(t => string.Create(CultureInfo.InvariantCulture, $"{t.Digit}:{t.Probability:0.0000}")));
            csv.Append(CultureInfo.InvariantCulture, $"{m.Index},{m.Label},{m.Predicted},{m.Confidence:0.0000},{top3}\n");
        }

        return csv.ToString();
    }

    private static string HtmlOf(RunReport run, IReadOnlyList<Mistake> mistakes, int sheetLimit, int classes)
    {
        var s = run.Settings;
        var test = run.Test;
        var matrix = test.ConfusionMatrix(classes);
        var html = new StringBuilder();
        html.Append("""
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><title>MnistGpu training report</title>
            <style>
            body{font-family:system-ui,sans-serif;margin:2em;background:#fafafa;color:#222}
            table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}
            th{background:#eee}.diag{background:#d8f0d8}.off{background:#f8dcd8}.zero{color:#bbb}
            .tiles{display:flex;flex-wrap:wrap;gap:8px}.tile{text-align:center;font-size:12px}
            img{image-rendering:pixelated}
            </style></head><body>
            <h1>MnistGpu training report</h1>
            """);
        html.Append(CultureInfo.InvariantCulture, $"<h2>Run</h2><table><tr><th>device</th><td>{Encode(run.Device)}</td></tr>");
        html.Append(CultureInfo.InvariantCulture, $"<tr><th>network</th><td>784-{s.HiddenUnits}-10, ReLU, softmax</td></tr><tr><th>optimizer</th><td>RMSprop lr {s.LearningRate}, ρ {s.Rho}, ε {s.Epsilon}</td></tr>");
        html.Append(CultureInfo.InvariantCulture, $"<tr><th>batch size</th><td>{s.BatchSize}</td></tr><tr><th>seed</th><td>{s.Seed}</td></tr><tr><th>epochs</th><td>{run.History.Count}</td></tr>");
        html.Append(CultureInfo.InvariantCulture, $"<tr><th>training time</th><td>{run.History.Sum(h => h.Duration.TotalSeconds):0.0} s</td></tr></table>");
        html.Append(CultureInfo.InvariantCulture, $"<h2>Result</h2><p>Test loss <b>{test.Loss:0.0000}</b>, test accuracy <b>{test.Accuracy:P2}</b> ({test.Correct}/{test.Count}); {mistakes.Count} test digits misclassified.</p>");
        html.Append("<table><tr><th>epoch</th><th>time</th><th>train loss</th><th>train accuracy</th><th>test loss</th><th>test accuracy</th></tr>");
        foreach (var h in run.History)
            html.Append(CultureInfo.InvariantCulture, $"<tr><td>{h.Epoch}</td><td>{h.Duration.TotalSeconds:0.0} s</td><td>{h.Loss:0.0000}</td><td>{h.Accuracy:P2}</td><td>{h.TestLoss?.ToString("0.0000", CultureInfo.InvariantCulture) ?? "-"}</td><td>{h.TestAccuracy?.ToString("P2", CultureInfo.InvariantCulture) ?? "-"}</td></tr>");
        html.Append(CultureInfo.InvariantCulture, $"</table><p><img src=\"{Curves}\" alt=\"loss and accuracy per epoch\"></p>");

        html.Append("<h2>Confusion matrix</h2><p>Rows: true digit; columns: predicted digit.</p><table><tr><th></th>");
        for (int p = 0; p < classes; p++)
            html.Append(CultureInfo.InvariantCulture, $"<th>{p}</th>");
        html.Append("</tr>");
        for (int t = 0; t < classes; t++)
        {
            html.Append(CultureInfo.InvariantCulture, $"<tr><th>{t}</th>");
            for (int p = 0; p < classes; p++)
            {
                string cls = t == p ? "diag" : matrix[t, p] == 0 ? "zero" : "off";
                html.Append(CultureInfo.InvariantCulture, $"<td class=\"{cls}\">{matrix[t, p]}</td>");
            }

            html.Append("</tr>");
        }

        html.Append(CultureInfo.InvariantCulture, $"</table><p><img src=\"{Confusion}\" alt=\"confusion matrix heat map\"></p>");
        html.Append(CultureInfo.InvariantCulture, $"<h2>Misclassified digits</h2><p>The {Math.Min(sheetLimit, mistakes.Count)} most confident mistakes, most confident first; captions read true&gt;predicted confidence. All {mistakes.Count} are listed in <a href=\"{Csv}\">{Csv}</a>.</p>");
        html.Append(CultureInfo.InvariantCulture, $"<p><img src=\"{ContactSheet}\" alt=\"contact sheet of misclassified digits\"></p><div class=\"tiles\">");
        foreach (var m in mistakes.Take(sheetLimit))
        {
            string top3 = string.Join(", ", m.Top3.Select(t => string.Create(CultureInfo.InvariantCulture, $"{t.Digit}: {t.Probability:P1}")));
            html.Append(CultureInfo.InvariantCulture, $"<div class=\"tile\"><img src=\"{MistakeFolder}/{m.FileName}\" alt=\"test digit {m.Index}\"><br>#{m.Index}: true {m.Label}, predicted {m.Predicted} ({m.Confidence:P1})<br><small>{top3}</small></div>");
        }

        html.Append("</div></body></html>\n");
        return html.ToString();
    }

    private static string Encode(string text) => WebUtility.HtmlEncode(text);

    private static ReadOnlySpan<byte> Pixels(LabeledImages set, int index) => set.Images.AsSpan(index * set.Pixels, set.Pixels);

    private static string Save(Image<Rgba32> image, string path)
    {
        using (image)
        {
            using var memory = new MemoryStream();
            image.SaveAsPng(memory);
            OutputFile.Write(path, memory.ToArray());
        }

        return path;
    }

    private static string WriteText(string path, string text)
    {
        OutputFile.Write(path, Encoding.UTF8.GetBytes(text));
        return path;
    }
}
