using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using MnistGpu.Reports.Previews;
using MnistGpu.Tests.Support;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace MnistGpu.Tests.Runner;

/// <summary>train --previews and report --previews write pictures people can look at, and they say what the evaluation says.</summary>
[Trait(Category.Name, Category.Slow)]
public sealed class PreviewTests : IClassFixture<PreviewTests.TrainedWithPreviews>
{
    private readonly TrainedWithPreviews run;

    public PreviewTests(TrainedWithPreviews run) => this.run = run;

    [Fact]
    public void Train_writes_every_preview_file()
    {
        Assert.Equal(0, run.Code);
        foreach (string name in new[] { PreviewWriter.ContactSheet, PreviewWriter.Confusion, PreviewWriter.Curves, PreviewWriter.Csv, PreviewWriter.Html })
            Assert.True(File.Exists(Path.Combine(run.Previews, name)), name);
        Assert.Contains("test_accuracy: ", run.Output);
    }

    [Fact]
    public void Every_png_decodes_to_its_expected_size_and_is_not_blank()
    {
        var pngs = Directory.GetFiles(run.Previews, "*.png", SearchOption.AllDirectories);
        Assert.True(pngs.Length > 3);
        foreach (string png in pngs)
        {
            using var image = Image.Load<Rgba32>(png);
            Assert.True(image.Width >= 112 && image.Height >= 112, $"{png} is {image.Width}x{image.Height}");
            var first = image[0, 0];
            bool varied = false;
            image.ProcessPixelRows(rows =>
            {
                for (int y = 0; y < rows.Height && !varied; y++)
                    varied = rows.GetRowSpan(y).IndexOfAnyExcept(first) >= 0;
            });
            Assert.True(varied, $"{png} is a single colour");
        }

        using var single = Image.Load<Rgba32>(Directory.GetFiles(Path.Combine(run.Previews, PreviewWriter.MistakeFolder))[0]);
        Assert.Equal((28 * PreviewWriter.Zoom, 28 * PreviewWriter.Zoom + PreviewWriter.CaptionHeight), (single.Width, single.Height));
        using var confusion = Image.Load<Rgba32>(Path.Combine(run.Previews, PreviewWriter.Confusion));
        Assert.Equal(confusion.Width, confusion.Height);
    }

    [Fact]
    public void The_csv_has_one_row_per_error_and_the_count_matches_the_accuracy()
    {
        var rows = Rows();
        using var summary = JsonDocument.Parse(File.ReadAllText(run.Json));
        double accuracy = summary.RootElement.GetProperty("test").GetProperty("accuracy").GetDouble();
        int correct = summary.RootElement.GetProperty("test").GetProperty("correct").GetInt32();
        Assert.Equal(10_000 - correct, rows.Count);
        Assert.Equal(Math.Round(10_000 * (1 - accuracy)), rows.Count);
        Assert.Equal(rows.Count, Directory.GetFiles(Path.Combine(run.Previews, PreviewWriter.MistakeFolder)).Length);
        Assert.All(rows, r => Assert.NotEqual(r.Label, r.Predicted));
        Assert.All(rows, r => Assert.Equal(Bundled.Mnist.Test.Labels[r.Index], r.Label));
        Assert.Equal(rows.OrderByDescending(r => r.Confidence).Select(r => r.Confidence), rows.Select(r => r.Confidence));
    }

    [Fact]
    public void The_contact_sheets_first_tile_is_the_most_confident_mistake()
    {
        var top = Rows()[0];
        using var sheet = Image.Load<Rgba32>(Path.Combine(run.Previews, PreviewWriter.ContactSheet));
        var (x0, y0) = PreviewWriter.TileOrigin(0, 28);
        var digit = Bundled.Mnist.Test.Images.AsSpan(top.Index * 784, 784);
        for (int row = 0; row < 28; row++)
        {
            for (int col = 0; col < 28; col++)
            {
                var pixel = sheet[x0 + col * PreviewWriter.Zoom + 1, y0 + row * PreviewWriter.Zoom + 1];
                Assert.Equal(digit[row * 28 + col], pixel.R);
            }
        }

        Assert.Single(Directory.GetFiles(Path.Combine(run.Previews, PreviewWriter.MistakeFolder), $"{top.Index:D5}-true{top.Label}-pred{top.Predicted}-*.png"));
    }

    [Fact]
    public void The_report_page_stands_alone_and_names_the_device_and_data()
    {
        string html = File.ReadAllText(Path.Combine(run.Previews, PreviewWriter.Html));
        var sources = Regex.Matches(html, "<img [^>]*src=\"([^\"]+)\"").Select(m => m.Groups[1].Value).ToList();
        Assert.Equal(Math.Min(100, Rows().Count), sources.Count);
        Assert.All(sources, src => Assert.StartsWith("data:image/png;base64,", src));
        Assert.Contains("<td>cpu:0", html);
        Assert.Contains($"<td>{run.DataFolder}</td>", html);
    }

    [Fact]
    public void Report_writes_the_same_files_for_a_saved_checkpoint()
    {
        using var folder = new TempDirectory();
        string model = SmallModel.WriteTo(folder);
        string previews = Path.Combine(folder.Path, "report");
        var run = CliRun.Run(["report", "--model", model, "--previews", previews, "--device", "cpu", "--preview-limit", "20"]);
        Assert.Equal("", run.Error);
        Assert.Equal(0, run.Code);
        Assert.Equal("", run.Output);
        Assert.Contains("Previews: ", run.Diagnostics);
        using var sheet = Image.Load<Rgba32>(Path.Combine(previews, PreviewWriter.ContactSheet));
        Assert.Equal(PreviewWriter.TileOrigin(19, 28).Y + 28 * PreviewWriter.Zoom + PreviewWriter.CaptionHeight + PreviewWriter.TilePadding, sheet.Height);
    }

    [Fact]
    public void A_previews_folder_that_cannot_be_made_fails_before_training()
    {
        using var folder = new TempDirectory();
        string file = folder.File("a-file");
        File.WriteAllText(file, "");
        var (code, output, error) = CliRun.Run(["train", "--device", "cpu", "--previews", Path.Combine(file, "previews")]);
        Assert.Equal(2, code);
        Assert.Single(error.TrimEnd().Split('\n'));
        Assert.Contains("--previews ", error);
        Assert.DoesNotContain("Epoch", output);
    }

    private List<(int Index, int Label, int Predicted, double Confidence)> Rows() =>
        File.ReadAllLines(Path.Combine(run.Previews, PreviewWriter.Csv)).Skip(1)
            .Select(line => line.Split(','))
            .Select(f => (int.Parse(f[0], CultureInfo.InvariantCulture), int.Parse(f[1], CultureInfo.InvariantCulture), int.Parse(f[2], CultureInfo.InvariantCulture), double.Parse(f[3], CultureInfo.InvariantCulture)))
            .ToList();

    /// <summary>One training run with previews, shared by the tests: 2 epochs on 2,000 digits, the full test set.</summary>
    public sealed class TrainedWithPreviews : IDisposable
    {
        private readonly TempDirectory data = IdxWriter.MnistSubset(trainCount: 2_000, testCount: 10_000);

        public TrainedWithPreviews()
        {
            Previews = data.File("previews");
            Json = data.File("run.json");
            (Code, Output, _) = CliRun.Run(["train", "--device", "cpu", "--data", data.Path, "--epochs", "2", "--hidden", "64", "--previews", Previews, "--json", Json]);
        }

        public string Previews { get; }

        public string DataFolder => data.Path;

        public string Json { get; }

        public int Code { get; }

        public string Output { get; }

        public void Dispose() => data.Dispose();
    }
}
