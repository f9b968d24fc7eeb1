using MnistGpu.Engine.Data;
using MnistGpu.Engine.Model;
using MnistGpu.Engine.Training;
using MnistGpu.Reports.Previews;
using MnistGpu.Tests.Support;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace MnistGpu.Tests.Reports.Previews;

/// <summary>
/// The last values written at the curves' ends, as drawn: in curves.png (its pixels) and in
/// report.html (the boxes Chromium lays the text out in), for curves that cross and end a hair
/// apart, and for a single epoch. Each label is whole, inside its panel, apart from the other,
/// and the larger value's above.
/// </summary>
public sealed class CurveLabelTests : IDisposable
{
    private readonly TempDirectory folder = new();

    public void Dispose() => folder.Dispose();

    /// <summary>Five epochs: train starts worse than test, the curves cross, and they end a hair apart in loss and accuracy.</summary>
    public static IReadOnlyList<EpochResult> Crossing { get; } =
    [
        new(1, 469, 0.2591, 0.9262, TimeSpan.FromSeconds(1)) { TestLoss = 0.1235, TestAccuracy = 0.9619 },
        new(2, 469, 0.1046, 0.9697, TimeSpan.FromSeconds(1)) { TestLoss = 0.0894, TestAccuracy = 0.9726 },
        new(3, 469, 0.0749, 0.9760, TimeSpan.FromSeconds(1)) { TestLoss = 0.0760, TestAccuracy = 0.9758 },
        new(4, 469, 0.0690, 0.9795, TimeSpan.FromSeconds(1)) { TestLoss = 0.0683, TestAccuracy = 0.9790 },
        new(5, 469, 0.0662, 0.9810, TimeSpan.FromSeconds(1)) { TestLoss = 0.0658, TestAccuracy = 0.9812 },
    ];

    /// <summary>One epoch, whose accuracy sits near the top of its panel.</summary>
    public static IReadOnlyList<EpochResult> OneEpoch { get; } =
    [
        new(1, 469, 0.2591, 0.9262, TimeSpan.FromSeconds(1)) { TestLoss = 0.1235, TestAccuracy = 0.9726 },
    ];

    public static TheoryData<string> Histories => ["crossing", "single"];

    [Theory]
    [MemberData(nameof(Histories))]
    public void In_curves_png_each_label_is_drawn_whole_inside_its_panel_and_not_over_the_other(string name)
    {
        var history = name == "crossing" ? Crossing : OneEpoch;
        using var image = PreviewPictures.Curves(history);
        foreach (var panel in CurvePanel.Both(history))
        {
            var labels = panel.EndLabels(text => BitmapFont.Measure(text, PreviewPictures.TextScale), BitmapFont.GlyphHeight * PreviewPictures.TextScale);
            Assert.Equal(2, labels.Count);
            Assert.True(labels[0].Top + labels[0].Height <= labels[1].Top, $"{panel.Title}: the larger value's label is not above the other's");
            foreach (var label in labels)
            {
                Assert.InRange(label.Left, panel.Left, panel.Left + CurvePanel.Width - label.Width);
                Assert.InRange(label.Top, 0, CurvePanel.AxisY - label.Height);
                // Every pixel of the label's glyphs, drawn alone, has the label's colour in the
                // chart: a label drawn over it, or cut off by the edge, leaves pixels that do not.
                using var alone = new Image<Rgba32>(label.Width, label.Height, new Rgba32(0, 0, 0, 0));
                BitmapFont.Draw(alone, label.Text, 0, 0, PreviewPictures.TextScale, new Rgba32(255, 255, 255));
                var colour = label.IsTrain ? PreviewPictures.TrainColour : PreviewPictures.TestColour;
                int ink = 0;
                for (int y = 0; y < label.Height; y++)
                {
                    for (int x = 0; x < label.Width; x++)
                    {
                        if (alone[x, y].A == 0)
                            continue;
                        ink++;
                        Assert.True(image[label.Left + x, label.Top + y] == colour, $"{panel.Title}: pixel ({x}, {y}) of '{label.Text}' is {image[label.Left + x, label.Top + y]}, not its colour");
                    }
                }

                Assert.True(ink > 10, $"{panel.Title}: '{label.Text}' has no glyphs");
            }
        }
    }

    [SkippableTheory]
    [MemberData(nameof(Histories))]
    public void In_report_html_the_browser_lays_each_label_inside_its_panel_apart_from_the_other(string name)
    {
        Skip.If(Chromium.Unavailable is not null, Chromium.Unavailable);
        var history = name == "crossing" ? Crossing : OneEpoch;
        var testSet = Bundled.Mnist.Test.Take(100);
        var test = new Evaluation(0.1, 1, testSet.Labels.Select(l => (int)l).ToArray(), new float[100 * MnistData.Classes], testSet.Labels, TimeSpan.FromSeconds(1));
        var run = new RunReport("test-device:0", "the bundled MNIST set", new NetworkShape(784, 64, 10), new TrainingSettings { HiddenUnits = 64 }, history, test, DateTimeOffset.UnixEpoch);
        PreviewWriter.Write(folder.Path, run, testSet, sheetLimit: 10);

        var boxes = Chromium.BoundingBoxes(folder.File(PreviewWriter.Html), "text.end-label");
        Assert.Equal(4, boxes.Count);
        for (int panel = 0; panel < 2; panel++)
        {
            var (upper, lower) = (boxes[2 * panel], boxes[2 * panel + 1]);
            foreach (var (x, y, width, height) in new[] { upper, lower })
            {
                Assert.True(width > 0 && height > 0, "a label has no box");
                Assert.InRange(x, panel * CurvePanel.Width, (panel + 1) * CurvePanel.Width - width);
                Assert.InRange(y, 0, CurvePanel.AxisY - height);
            }

            Assert.True(upper.Y + upper.Height <= lower.Y, $"panel {panel}: the labels overlap ({upper} and {lower})");
        }

        // Kept with CI's results, to be looked at: the page as a reader sees it.
        string results = Environment.GetEnvironmentVariable("MNISTGPU_TEST_RESULTS") is { Length: > 0 } kept ? kept : Path.Combine(AppContext.BaseDirectory, "TestResults");
        Directory.CreateDirectory(results);
        Chromium.Screenshot(folder.File(PreviewWriter.Html), Path.Combine(results, $"report-{name}.png"), height: 1500);
    }
}
