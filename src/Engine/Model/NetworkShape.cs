using System.Globalization;

namespace MnistGpu.Engine.Model;

/// <summary>
/// The network: dense layers Inputs → hidden₁ → … → hiddenₙ → Classes, ReLU after every hidden
/// layer, softmax after the last. The seed network, Keras' MNIST example, is 784 → 512 → 10. The
/// parameters live in one flat array, layer by layer from the input side, each layer's weights
/// (inputs, outputs) row-major as Keras stores them and then its biases, so one optimizer launch
/// updates them all.
/// </summary>
public sealed class NetworkShape : IEquatable<NetworkShape>
{
    /// <summary>Deeper than any dense network trains well without normalisation; a bound that keeps every count small.</summary>
    public const int MaxHiddenLayers = 64;

    private readonly int[] hidden;

    public NetworkShape(int inputs, IReadOnlyList<int> hiddenWidths, int classes)
    {
        Inputs = inputs;
        hidden = [.. hiddenWidths];
        Classes = classes;
        var layers = new DenseLayerShape[hidden.Length + 1];
        long offset = 0;
        for (int i = 0; i < layers.Length; i++)
        {
            int layerInputs = i == 0 ? inputs : hidden[i - 1];
            int outputs = i < hidden.Length ? hidden[i] : classes;
            // Offsets of an oversized shape saturate; Validate refuses it before anything uses them.
            layers[i] = new DenseLayerShape(layerInputs, outputs, (int)Math.Min(offset, int.MaxValue));
            offset += ((long)layerInputs + 1) * outputs;
        }

        Layers = layers;
        TotalParameters = offset;
    }

    /// <summary>One hidden layer of <paramref name="hidden"/> units, as in the seed network.</summary>
    public NetworkShape(int inputs, int hidden, int classes)
        : this(inputs, [hidden], classes)
    {
    }

    /// <summary>The Keras MNIST example: 784 → 512 → 10.</summary>
    public static NetworkShape Default { get; } = new(784, 512, 10);

    public int Inputs { get; }

    /// <summary>The hidden layers' widths, input side first.</summary>
    public IReadOnlyList<int> HiddenWidths => hidden;

    /// <summary>The first hidden layer's width: the layer the images feed, which the fused steps gather into.</summary>
    public int Hidden => hidden[0];

    public int Classes { get; }

    /// <summary>Every dense layer, input side first.</summary>
    public IReadOnlyList<DenseLayerShape> Layers { get; }

    public int ParameterCount => checked((int)TotalParameters);

    private long TotalParameters { get; }

    public static bool operator ==(NetworkShape? left, NetworkShape? right) => Equals(left, right);

    public static bool operator !=(NetworkShape? left, NetworkShape? right) => !Equals(left, right);

    /// <summary>Hidden widths as the command line writes them, e.g. "512,256".</summary>
    public static string FormatWidths(IReadOnlyList<int> widths) => string.Join(',', widths.Select(w => w.ToString(CultureInfo.InvariantCulture)));

    /// <summary>e.g. 784-512-256-10.</summary>
    public override string ToString() => string.Join('-', [Inputs, .. hidden, Classes]);

    public bool Equals(NetworkShape? other) =>
        other is not null && Inputs == other.Inputs && Classes == other.Classes && hidden.AsSpan().SequenceEqual(other.hidden);

    public override bool Equals(object? obj) => Equals(obj as NetworkShape);

    public override int GetHashCode() => HashCode.Combine(Inputs, Classes, ToString());

    /// <summary>
    /// Checks, in 64-bit arithmetic, that every size is positive and that the flat parameter
    /// array can exist at all, before anything computes <see cref="ParameterCount"/> (which would
    /// overflow) or allocates.
    /// </summary>
    /// <exception cref="UserInputException">A size is out of range, or the network is too large for one array.</exception>
    public void Validate()
    {
        if (Inputs < 1 || hidden.Length == 0 || hidden.Any(width => width < 1) || Classes < 2)
            throw new UserInputException($"a network needs at least 1 input, at least one hidden layer of at least 1 unit, and 2 classes, not {this}");
        if (hidden.Length > MaxHiddenLayers)
            throw new UserInputException($"a network of {hidden.Length} hidden layers is beyond this engine's {MaxHiddenLayers}");
        if (TotalParameters > Array.MaxLength)
            throw new UserInputException($"a {this} network has {TotalParameters:N0} parameters; one array holds at most {Array.MaxLength:N0}");
    }

    /// <summary>Where flat parameter <paramref name="index"/> sits, for messages: "layer 1 weight [3, 17]".</summary>
    public string Locate(int index)
    {
        foreach (var (layer, number) in Layers.Select((layer, i) => (layer, i + 1)))
        {
            int offset = index - layer.Offset;
            if (offset < 0 || offset >= layer.ParameterCount)
                continue;
            return offset < layer.WeightCount
                ? $"layer {number} ({layer.Inputs}->{layer.Outputs}) weight [{offset / layer.Outputs}, {offset % layer.Outputs}]"
                : $"layer {number} ({layer.Inputs}->{layer.Outputs}) bias [{offset - layer.WeightCount}]";
        }

        return "past the last layer";
    }
}

/// <summary>A dense layer's place in the flat parameter array: weights, then biases.</summary>
public readonly record struct DenseLayerShape(int Inputs, int Outputs, int Offset)
{
    public int WeightCount => Inputs * Outputs;

    public int ParameterCount => WeightCount + Outputs;

    public int WeightOffset => Offset;

    public int BiasOffset => Offset + WeightCount;
}
