using MnistGpu.Engine.IO;

namespace MnistGpu.Engine.Data;

/// <summary>
/// A training and a test split in the MNIST file layout (also used by Fashion-MNIST and
/// KMNIST): four IDX files, each raw or gzip-compressed.
/// </summary>
public sealed class MnistData
{
    /// <summary>Every label must be below this: the network's output has ten classes.</summary>
    public const int Classes = 10;

    private MnistData(LabeledImages train, LabeledImages test)
    {
        Train = train;
        Test = test;
    }

    public LabeledImages Train { get; }

    public LabeledImages Test { get; }

    /// <summary>
    /// The MNIST set bundled with the program: the <c>data/mnist</c> folder beside the
    /// executable, or, when running from a source checkout, the repository's own.
    /// </summary>
    public static string BundledDirectory
    {
        get
        {
            string beside = Path.Combine(AppContext.BaseDirectory, "data", "mnist");
            return Directory.Exists(beside) ? beside : FindInParents(AppContext.BaseDirectory) ?? beside;
        }
    }

    public static MnistData LoadBundled() => Load(BundledDirectory);

    /// <summary>The set in <paramref name="directory"/>, or the bundled MNIST when it is null.</summary>
    /// <exception cref="UserInputException">A file is missing or malformed, or the files disagree.</exception>
    public static MnistData Load(string? directory)
    {
        directory ??= BundledDirectory;
        var kind = FileKinds.Of(directory);
        if (kind == FileKind.Missing)
            throw new UserInputException($"data folder not found: {directory}");
        if (kind != FileKind.Directory)
            throw new UserInputException($"data folder {directory}: is {FileKinds.Describe(kind)}, not a folder");
        var train = LoadSplit(directory, "train", "train");
        var test = LoadSplit(directory, "t10k", "test");
        if (train.Rows != test.Rows || train.Columns != test.Columns)
            throw new UserInputException($"{directory}: training images are {train.Rows}x{train.Columns} but test images are {test.Rows}x{test.Columns}");
        return new MnistData(train, test);
    }

    private static LabeledImages LoadSplit(string directory, string prefix, string name)
    {
        string imagesPath = FindFile(directory, $"{prefix}-images-idx3-ubyte");
        string labelsPath = FindFile(directory, $"{prefix}-labels-idx1-ubyte");
        var images = IdxFile.Read(imagesPath, expectedRank: 3);
        var labels = IdxFile.Read(labelsPath, expectedRank: 1);
        if (images.Dimensions[0] != labels.Dimensions[0])
            throw new UserInputException($"{imagesPath} has {images.Dimensions[0]} images but {labelsPath} has {labels.Dimensions[0]} labels");
        int bad = Array.FindIndex(labels.Data, label => label >= Classes);
        if (bad >= 0)
            throw new UserInputException($"{labelsPath}: label {labels.Data[bad]} at index {bad} is not a class 0..{Classes - 1}");
        return new LabeledImages(name, images.Data, labels.Data, images.Dimensions[1], images.Dimensions[2]);
    }

    private static string FindFile(string directory, string baseName)
    {
        foreach (string candidate in new[] { baseName, baseName + ".gz" })
        {
            // Whatever is there is returned, so that a folder or a FIFO by that name is named as such.
            string path = Path.Combine(directory, candidate);
            if (FileKinds.Of(path) != FileKind.Missing)
                return path;
        }

        throw new UserInputException($"{directory}: no {baseName} or {baseName}.gz");
    }

    private static string? FindInParents(string start)
    {
        for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, "data", "mnist");
            if (Directory.Exists(candidate))
                return candidate;
        }

        return null;
    }
}
