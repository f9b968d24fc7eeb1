using System.CommandLine;
using MnistGpu.Engine;
using MnistGpu.Engine.Data;
using MnistGpu.Engine.IO;
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

    /// <summary>
    /// Fails before any work when the folder, or a file or folder the previews write in it, cannot
    /// be written; and when it is named like the page it will hold ("report.html"), which would
    /// otherwise become a folder of that name.
    /// </summary>
    public static void Check(string folder)
    {
        string name = Path.GetFileName(Path.TrimEndingDirectorySeparator(folder));
        if ((name.EndsWith(".html", StringComparison.OrdinalIgnoreCase) || name.EndsWith(".htm", StringComparison.OrdinalIgnoreCase)) && !Directory.Exists(folder))
        {
            string parent = Path.GetDirectoryName(Path.TrimEndingDirectorySeparator(folder)) is { Length: > 0 } above ? above : ".";
            throw new UserInputException($"--previews {folder}: names the folder the previews are written to, {PreviewWriter.Html} among them; give a folder, e.g. --previews {Path.Combine(parent, "previews")}");
        }

        OutputFile.CheckFolder(folder, "--previews", PreviewWriter.Files, [PreviewWriter.MistakeFolder]);
    }

    /// <summary>The folder among a command's outputs: its files, and the mistake pictures' folder it rewrites.</summary>
    public static CommandFiles Output(this CommandFiles files, string? folder) =>
        files.OutputFolder("--previews", folder, PreviewWriter.Files, [PreviewWriter.MistakeFolder]);

    public static void Write(TextWriter diagnostics, string folder, RunReport run, LabeledImages testSet, int limit)
    {
        var files = PreviewWriter.Write(folder, run, testSet, limit);
        diagnostics.WriteLine($"Previews: {files.Count} files in {folder} (open {Path.Combine(folder, PreviewWriter.Html)})");
    }
}
