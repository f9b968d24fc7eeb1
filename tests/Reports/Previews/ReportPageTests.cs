using System.Text.RegularExpressions;
using MnistGpu.Engine.Data;
using MnistGpu.Engine.Model;
using MnistGpu.Engine.Training;
using MnistGpu.Reports.Previews;
using MnistGpu.Tests.Support;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace MnistGpu.Tests.Reports.Previews;

/// <summary>
/// report.html stands alone and the PNGs beside it are readable, for an evaluation whose
/// mistakes are known: every 37th of 1,000 test digits is answered wrongly, 28 mistakes.
/// </summary>
public sealed class ReportPageTests : IDisposable
{
    private const int Digits = 1_000;
    private const int Mistakes = 28;

    private readonly TempDirectory folder = new();
    private readonly LabeledImages testSet = Bundled.Mnist.Test.Take(Digits);

    public void Dispose() => folder.Dispose();

    [Fact]
    public void The_page_refers_to_nothing_outside_itself()
    {
        string html = Write(epochs: 3, limit: 100);

        var references = Regex.Matches(html, @"\b(?:src|href|srcset|poster|data|action)\s*=\s*""([^""]*)""|url\(([^)]*)\)|@import", RegexOptions.IgnoreCase)
            .Select(m => m.Value).ToList();
        Assert.Equal(Mistakes + 1, references.Count);
        Assert.All(references, reference => Assert.Matches(@"^(src|href)=""data:", reference));
        Assert.DoesNotContain("<link", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("<script", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("http", html, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void The_page_shows_each_part_once_with_the_run_it_describes()
    {
        string html = Write(epochs: 3, limit: 10);

        foreach (string heading in new[] { "Run", "Network", "Epochs", "Loss and accuracy", "Confusion matrix", "Accuracy per digit", "Most confident mistakes" })
            Assert.Single(Regex.Matches(html, $"<h2>{heading}</h2>"));
        Assert.Single(Regex.Matches(html, "<svg"));
        Assert.Single(Regex.Matches(html, "<table class=\"confusion\">"));
        Assert.Equal(10, Regex.Count(html, "<img "));
        Assert.Contains("<td>test-device:0</td>", html);
        Assert.Contains("<td>/data/&lt;digits&gt;</td>", html);
        Assert.Contains("<td>784-64-10: dense layers, ReLU after each hidden one, softmax", html);
        Assert.Contains("<td>RMSprop (lr 0.001, rho 0.9, epsilon 1e-7)</td>", html);
        Assert.Contains("<tr><td>dense (Dense)</td><td>(None, 64)</td><td>50,240</td></tr>\n<tr><td>dense_1 (Dense)</td><td>(None, 10)</td><td>650</td></tr>", html);
        Assert.Contains("Total params: 50,890 (198.79 KB)", html);

        // Every 37th digit, from index 0, answered as label + 3; the CSV offered for download lists all of them.
        var first = Regex.Match(html, "<figcaption><b>(\\d) → (\\d)</b> 90.0 ?%<br>#(\\d+)</figcaption>");
        Assert.True(first.Success, "no caption reads 'true → predicted confidence #index'");
        int index = int.Parse(first.Groups[3].Value);
        Assert.Equal(0, index % 37);
        Assert.Equal(testSet.Labels[index].ToString(), first.Groups[1].Value);
        Assert.Equal(((testSet.Labels[index] + 3) % 10).ToString(), first.Groups[2].Value);
        string csv = System.Text.Encoding.UTF8.GetString(Convert.FromBase64String(Regex.Match(html, "href=\"data:text/csv;charset=utf-8;base64,([^\"]+)\"").Groups[1].Value));
        Assert.Equal(Mistakes + 1, csv.TrimEnd().Split('\n').Length);
        Assert.Equal(File.ReadAllText(folder.File(PreviewWriter.Csv)), csv);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(5)]
    public void Each_epoch_is_a_marked_point_with_value_ticks_in_the_svg(int epochs)
    {
        string svg = Regex.Match(Write(epochs, limit: 100), "<svg.*</svg>", RegexOptions.Singleline).Value;

        // Two panels, train and test each: one circle per epoch and series.
        Assert.Equal(4 * epochs, Regex.Count(svg, "<circle "));
        Assert.Contains(">epoch</text>", svg);
        Assert.True(Regex.Count(svg, "text-anchor=\"end\">[0-9.]+</text>") >= 6, "fewer than three value ticks per panel");
        Assert.Contains($">{epochs}</text>", svg);
    }

    [SkippableFact]
    public void Copied_alone_into_an_empty_folder_every_picture_decodes_in_chromium()
    {
        Skip.If(Chromium.Unavailable is not null, Chromium.Unavailable);
        Write(epochs: 1, limit: 100);

        var (images, textLength) = Chromium.Inspect(folder.File(PreviewWriter.Html));

        Assert.Equal(Mistakes, images.Count);
        Assert.All(images, size => Assert.Equal((28, 28), size));
        Assert.True(textLength > 1_000, $"only {textLength} characters of visible text");
    }

    [SkippableFact]
    public void The_rendered_page_is_not_blank()
    {
        Skip.If(Chromium.Unavailable is not null, Chromium.Unavailable);
        Write(epochs: 2, limit: 100);
        string screenshot = folder.File("screenshot.png");

        Chromium.Screenshot(folder.File(PreviewWriter.Html), screenshot, height: 3000);

        using var image = Image.Load<Rgba32>(screenshot);
        var colours = new HashSet<Rgba32>();
        image.ProcessPixelRows(rows =>
        {
            for (int y = 0; y < rows.Height; y += 2)
            {
                foreach (var pixel in rows.GetRowSpan(y))
                    colours.Add(pixel);
            }
        });
        // Text, curves, heat colours and grey digits: a blank or broken page has a handful.
        Assert.True(colours.Count > 200, $"the screenshot has only {colours.Count} colours");
    }

    [Fact]
    public void Contact_sheet_captions_are_twenty_pixels_high()
    {
        Write(epochs: 1, limit: 100);
        using var sheet = Image.Load<Rgba32>(folder.File(PreviewWriter.ContactSheet));
        var (x, y) = PreviewWriter.TileOrigin(0, 28);
        int captionTop = y + 28 * PreviewWriter.Zoom;

        var inked = Enumerable.Range(captionTop, PreviewWriter.CaptionHeight)
            .Where(row => Enumerable.Range(x, 28 * PreviewWriter.Zoom).Any(col => sheet[col, row].R > 200 && sheet[col, row].B < 120))
            .ToList();

        Assert.Equal(20, inked[^1] - inked[0] + 1);
    }

    [Fact]
    public void One_epoch_curves_mark_each_point_in_the_middle_of_the_plot()
    {
        Write(epochs: 1, limit: 100);
        using var curves = Image.Load<Rgba32>(folder.File(PreviewWriter.Curves));
        var train = new Rgba32(80, 150, 255);

        // The loss panel's point sits mid-width; a marker is 9×9 pixels, the legend swatch 16×10.
        int middle = CurvePanel.PlotLeft + CurvePanel.PlotWidth / 2;
        Assert.Equal(9, Enumerable.Range(0, curves.Height).Count(row => curves[middle, row] == train));
    }

    /// <summary>Writes the previews of the synthetic evaluation; returns report.html's text.</summary>
    [Fact]
    public void The_epoch_table_gives_a_schedule_s_rates_and_no_such_column_for_a_constant_rate()
    {
        Assert.DoesNotContain("learning rate", Write(epochs: 2, limit: 1), StringComparison.Ordinal);
        string html = Write(epochs: 2, limit: 1, rate: epoch => 0.001 / epoch);
        Assert.Contains("<th>learning rate (last step)</th>", html, StringComparison.Ordinal);
        Assert.Contains("<td>1e-3</td></tr>", html, StringComparison.Ordinal);
        Assert.Contains("<td>5e-4</td></tr>", html, StringComparison.Ordinal);
    }

    private string Write(int epochs, int limit, Func<int, double>? rate = null)
    {
        var labels = testSet.Labels;
        var predictions = labels.Select((label, i) => i % 37 == 0 ? (label + 3) % 10 : label).ToArray();
        var probabilities = new float[Digits * MnistData.Classes];
        for (int i = 0; i < Digits; i++)
        {
            for (int c = 0; c < MnistData.Classes; c++)
                probabilities[i * MnistData.Classes + c] = c == predictions[i] ? 0.9f : 0.1f / 9;
        }

        var test = new Evaluation(0.1, 1 - Mistakes / (double)Digits, predictions, probabilities, labels, TimeSpan.FromSeconds(1));
        var history = Enumerable.Range(1, epochs)
            .Select(e => new EpochResult(e, 469, 0.3 / e, 1 - 0.05 / e, TimeSpan.FromSeconds(2)) { TestLoss = 0.2 / e, TestAccuracy = 1 - 0.04 / e, LearningRate = rate?.Invoke(e) })
            .ToList();
        var run = new RunReport("test-device:0", "/data/<digits>", new NetworkShape(784, 64, 10), new TrainingSettings { HiddenUnits = 64 }, history, test, DateTimeOffset.UnixEpoch);
        PreviewWriter.Write(folder.Path, run, testSet, limit);
        return File.ReadAllText(folder.File(PreviewWriter.Html));
    }
}
