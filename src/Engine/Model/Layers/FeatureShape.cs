namespace MnistGpu.Engine.Model.Layers;

/// <summary>What a layer's rows are: the network's input images, feature maps of a convolution or pooling, or flat vectors.</summary>
public enum FeatureLayout
{
    /// <summary>The network's input: square grey images, which dense and convolutional layers both take.</summary>
    Image,

    /// <summary>Feature maps (height, width, channels), channels last: what a convolution or a pooling makes.</summary>
    Maps,

    /// <summary>Flat vectors: what a dense layer or Flatten makes.</summary>
    Flat,
}

/// <summary>
/// One row of a layer's input or output: height × width × channels values, channels last (NHWC,
/// Keras' layout), flat vectors as 1 × 1 × n. Sizes are kept as given, for a layer's
/// <see cref="Layer.Problem"/> to judge; <see cref="Size"/> is 64-bit so a product cannot wrap.
/// </summary>
public readonly record struct FeatureShape(int Height, int Width, int Channels, FeatureLayout Layout)
{
    /// <summary>Values per row.</summary>
    public long Size => (long)Height * Width * Channels;

    /// <summary>
    /// The network's input of <paramref name="inputs"/> values: square grey images when
    /// <paramref name="inputs"/> is a square (MNIST's 784 = 28 × 28), flat vectors otherwise.
    /// </summary>
    public static FeatureShape OfInput(int inputs)
    {
        int side = (int)Math.Round(Math.Sqrt(Math.Max(inputs, 0)));
        return side * side == inputs && inputs > 0 ? new(side, side, 1, FeatureLayout.Image) : Flat(inputs);
    }

    public static FeatureShape Flat(int values) => new(1, 1, values, FeatureLayout.Flat);

    /// <summary>e.g. "26x26x32", or "512" for flat vectors.</summary>
    public override string ToString() => Layout == FeatureLayout.Flat ? $"{Channels}" : $"{Height}x{Width}x{Channels}";
}
