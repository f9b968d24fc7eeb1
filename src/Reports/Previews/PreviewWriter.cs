using System.Globalization;
using System.Text;
using MnistGpu.Engine.Data;
using MnistGpu.Engine.IO;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace MnistGpu.Reports.Previews;

/// <summary>
/// Writes what people look at after training into one folder: report.html, which stands alone,
/// and beside it, for those who want the parts, the contact sheet of the most confident mistakes,
/// one picture per mistake, the confusion matrix, the curves and a CSV of every mistake.
/// </summary>
public static class PreviewWriter
{
    public const string ContactSheet = "misclassified.png";
    public const string MistakeFolder = "misclassified";
    public const string Confusion = "confusion.png";
    public const string Curves = "curves.png";
    public const string Csv = "misclassified.csv";
    public const string Html = "report.html";
    public const string Kernels = "first-layer-kernels.png";
    public const string FeatureMaps = "first-layer-feature-maps.png";

    /// <summary>Every file written into the folder itself (the first layer's two pictures for a convnet only); <see cref="MistakeFolder"/> beside them is rewritten whole.</summary>
    public static IReadOnlyList<string> Files { get; } = [Html, Csv, ContactSheet, Confusion, Curves, Kernels, FeatureMaps];

    public const int Zoom = PreviewPictures.Zoom;
    public const int TilePadding = PreviewPictures.TilePadding;
    public const int CaptionHeight = PreviewPictures.CaptionHeight;

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

        var mistakes = Mistake.All(run.Test, MnistData.Classes);
        string csv = CsvOf(mistakes);
        var written = new List<string>
        {
            WriteText(Path.Combine(folder, Html), ReportPage.Html(run, mistakes, testSet, sheetLimit, csv)),
            WriteText(Path.Combine(folder, Csv), csv),
            Save(PreviewPictures.ContactSheet(mistakes.Take(sheetLimit).ToList(), testSet), Path.Combine(folder, ContactSheet)),
            Save(PreviewPictures.Confusion(run.Test.ConfusionMatrix(MnistData.Classes)), Path.Combine(folder, Confusion)),
            Save(PreviewPictures.Curves(run.History), Path.Combine(folder, Curves)),
        };
        if (run.FirstLayer is { } first)
        {
            written.Add(Save(FirstLayerPicture.Kernels(first), Path.Combine(folder, Kernels)));
            written.Add(Save(FirstLayerPicture.FeatureMaps(first, testSet.Images.AsSpan(first.DigitIndex * testSet.Pixels, testSet.Pixels), testSet.Rows), Path.Combine(folder, FeatureMaps)));
        }
        else
        {
            // A dense network's report in a folder a convnet's report used: its pictures would mislead.
            RemoveIfPresent(Path.Combine(folder, Kernels));
            RemoveIfPresent(Path.Combine(folder, FeatureMaps));
        }

        foreach (var mistake in mistakes)
            written.Add(Save(PreviewPictures.Single(mistake, testSet), Path.Combine(folder, MistakeFolder, mistake.FileName)));
        RemoveEarlierMistakes(Path.Combine(folder, MistakeFolder), mistakes.Select(m => m.FileName).ToHashSet());
        return written;
    }

    /// <summary>
    /// Mistake pictures of an earlier run into the same folder, which the CSV no longer lists:
    /// only names this program writes are removed, so a user's own files there stay.
    /// </summary>
    private static void RemoveEarlierMistakes(string folder, HashSet<string> current)
    {
        foreach (string path in Directory.EnumerateFiles(folder, "*.png").ToList())
        {
            string name = Path.GetFileName(path);
            if (Mistake.IsFileName(name) && !current.Contains(name))
                RemoveIfPresent(path);
        }
    }

    private static void RemoveIfPresent(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw OutputFile.WriteFailure(path, e);
        }
    }

    /// <summary>Top-left corner of tile <paramref name="tile"/> on the contact sheet.</summary>
    public static (int X, int Y) TileOrigin(int tile, int side) => PreviewPictures.TileOrigin(tile, side);

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
