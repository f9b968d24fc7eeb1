namespace MnistGpu.Engine.Data;

/// <summary>
/// One split of an MNIST-layout dataset: <see cref="Count"/> greyscale images of
/// <see cref="Rows"/>×<see cref="Columns"/> bytes, row-major and back to back, with one class label each.
/// </summary>
public sealed class LabeledImages
{
    public LabeledImages(string name, byte[] images, byte[] labels, int rows, int columns)
    {
        if (rows <= 0 || columns <= 0)
            throw new ArgumentOutOfRangeException(nameof(rows), "image size must be positive");
        if (images.Length != labels.Length * rows * columns)
            throw new ArgumentException($"{labels.Length} labels need {labels.Length * rows * columns} pixel bytes, got {images.Length}", nameof(images));
        Name = name;
        Images = images;
        Labels = labels;
        Rows = rows;
        Columns = columns;
    }

    private string? contentHash;

    public string Name { get; }

    public byte[] Images { get; }

    public byte[] Labels { get; }

    public int Rows { get; }

    public int Columns { get; }

    public int Count => Labels.Length;

    public int Pixels => Rows * Columns;

    /// <summary>SHA-256 of the images then the labels, in hex: identifies the data a checkpoint was trained on.</summary>
    public string ContentHash => contentHash ??= ComputeHash();

    private string ComputeHash()
    {
        using var sha = System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA256);
        sha.AppendData(Images);
        sha.AppendData(Labels);
        return Convert.ToHexStringLower(sha.GetHashAndReset());
    }

    /// <summary>
    /// Keras' validation_split: the last <paramref name="fraction"/> of the samples, taken before any
    /// shuffling, as the validation set, and the rest to train on (the first ⌊count·(1 − fraction)⌋).
    /// </summary>
    /// <exception cref="UserInputException">The fraction is not in (0, 1), or leaves either part empty.</exception>
    public (LabeledImages Train, LabeledImages Validation) SplitOff(double fraction)
    {
        if (!(fraction > 0 && fraction < 1))
            throw new UserInputException($"a validation split is a fraction in (0, 1), got {fraction.ToString(System.Globalization.CultureInfo.InvariantCulture)}");
        int train = (int)(Count * (1 - fraction));
        if (train < 1 || train >= Count)
            throw new UserInputException($"a validation split of {fraction.ToString(System.Globalization.CultureInfo.InvariantCulture)} of {Count} {Name} images leaves {(train < 1 ? "nothing to train on" : "no validation images")}");
        return (
            new LabeledImages(Name, Images[..(train * Pixels)], Labels[..train], Rows, Columns),
            new LabeledImages("validation", Images[(train * Pixels)..], Labels[train..], Rows, Columns));
    }

    /// <summary>The first <paramref name="count"/> samples, for quick runs and tests.</summary>
    public LabeledImages Take(int count)
    {
        if (count <= 0 || count > Count)
            throw new ArgumentOutOfRangeException(nameof(count), $"must be in 1..{Count}");
        return new LabeledImages(Name, Images[..(count * Pixels)], Labels[..count], Rows, Columns);
    }
}
