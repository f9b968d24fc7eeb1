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

    /// <summary>What <see cref="Source"/> says for the set embedded in the engine.</summary>
    public const string BundledSource = "the bundled MNIST set";

    private MnistData(LabeledImages train, LabeledImages test, string source)
    {
        Train = train;
        Test = test;
        Source = source;
    }

    public LabeledImages Train { get; }

    public LabeledImages Test { get; }

    /// <summary>Where the set came from: the folder's full path, or <see cref="BundledSource"/>.</summary>
    public string Source { get; }

    /// <summary>
    /// The MNIST set of the repository's <c>data/mnist</c>, embedded in this assembly, so that any
    /// program referencing the engine has it, wherever it runs from.
    /// </summary>
    public static MnistData LoadBundled()
    {
        var assembly = typeof(MnistData).Assembly;
        var train = ReadSplit("train", "train", name => Resource(assembly, name));
        var test = ReadSplit("t10k", "test", name => Resource(assembly, name));
        return new MnistData(train, test, BundledSource);

        static IdxFile Resource(System.Reflection.Assembly assembly, (string Name, int Rank) file)
        {
            string name = $"mnist/{file.Name}.gz";
            using var stream = assembly.GetManifestResourceStream(name)
                ?? throw new EngineException($"{name} is not embedded in {assembly.GetName().Name}: the engine was built without data/mnist");
            return IdxFile.Read(name, stream, stream.Length, file.Rank);
        }
    }

    /// <summary>The set in <paramref name="directory"/>, or the bundled MNIST when it is null.</summary>
    /// <exception cref="UserInputException">A file is missing or malformed, or the files disagree.</exception>
    public static MnistData Load(string? directory)
    {
        if (directory is null)
            return LoadBundled();
        var kind = FileKinds.Of(directory);
        if (kind == FileKind.Missing)
            throw new UserInputException($"data folder not found: {directory}");
        if (kind != FileKind.Directory)
            throw new UserInputException($"data folder {directory}: is {FileKinds.Describe(kind)}, not a folder");
        var train = ReadSplit("train", "train", file => IdxFile.Read(FindFile(directory, file.Name), file.Rank));
        var test = ReadSplit("t10k", "test", file => IdxFile.Read(FindFile(directory, file.Name), file.Rank));
        if (train.Rows != test.Rows || train.Columns != test.Columns)
            throw new UserInputException($"{directory}: training images are {train.Rows}x{train.Columns} but test images are {test.Rows}x{test.Columns}");
        return new MnistData(train, test, Path.GetFullPath(directory));
    }

    /// <summary>The files <see cref="Load"/> reads from <paramref name="directory"/>, as far as they are there; none for the bundled set.</summary>
    public static IReadOnlyList<string> Files(string? directory)
    {
        if (directory is null || FileKinds.Of(directory) != FileKind.Directory)
            return [];
        return FileNames.Select(name => Present(directory, name)).OfType<string>().ToList();
    }

    private static readonly string[] FileNames = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"];

    private static LabeledImages ReadSplit(string prefix, string name, Func<(string Name, int Rank), IdxFile> read)
    {
        var images = read(($"{prefix}-images-idx3-ubyte", 3));
        var labels = read(($"{prefix}-labels-idx1-ubyte", 1));
        if (images.Dimensions[0] != labels.Dimensions[0])
            throw new UserInputException($"{images.Name} has {images.Dimensions[0]} images but {labels.Name} has {labels.Dimensions[0]} labels");
        int bad = Array.FindIndex(labels.Data, label => label >= Classes);
        if (bad >= 0)
            throw new UserInputException($"{labels.Name}: label {labels.Data[bad]} at index {bad} is not a class 0..{Classes - 1}");
        return new LabeledImages(name, images.Data, labels.Data, images.Dimensions[1], images.Dimensions[2]);
    }

    private static string FindFile(string directory, string baseName) =>
        Present(directory, baseName) ?? throw new UserInputException($"{directory}: no {baseName} or {baseName}.gz");

    /// <summary>The raw or compressed file of <paramref name="baseName"/>; whatever is there, so that a folder or a FIFO by that name is named as such.</summary>
    private static string? Present(string directory, string baseName) =>
        new[] { baseName, baseName + ".gz" }.Select(name => Path.Combine(directory, name)).FirstOrDefault(path => FileKinds.Of(path) != FileKind.Missing);
}
