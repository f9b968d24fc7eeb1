using System.CommandLine;
using MnistGpu.Engine.Data;
using MnistGpu.Reports.Previews;

namespace MnistGpu.Runner;

/// <summary>The --previews options of train and report, and the one way both write and announce them.</summary>
internal static class PreviewOptions
{
    public static Option<DirectoryInfo?> Folder() => new("--previews")
    {
        Description = "Write misclassified-digit previews, confusion matrix, curves, CSV and report.html to this folder",
    };

    public static Option<int> Limit() => Options.AtLeastOne("--preview-limit", "Most misclassified digits on the contact sheet and in the report", 100);

    public static void Write(TextWriter diagnostics, string folder, RunReport run, LabeledImages testSet, int limit)
    {
        var files = PreviewWriter.Write(folder, run, testSet, limit);
        diagnostics.WriteLine($"Previews: {files.Count} files in {folder} (open {Path.Combine(folder, PreviewWriter.Html)})");
    }
}
