using MnistGpu.Engine.Data;
using MnistGpu.Engine.Model.Layers;

namespace MnistGpu.Engine.Model;

/// <summary>
/// The network: Inputs → hidden₁ → … → hiddenₙ → Classes, with a dense layer and softmax last.
/// The hidden layers are any registered kinds (<see cref="LayerKinds"/>): dense layers,
/// convolutions, poolings, flattens, each with the activation its spec gives (a ReLU after every
/// dense layer and every convolution not marked linear). The seed network, Keras' MNIST example,
/// is 784 → dense 512 → 10; the Keras book's convnet is another. The parameters live in one flat
/// array, layer by layer from the input side, each laid out as its kind says (a dense layer's
/// weights (inputs, outputs) row-major as Keras stores them, then its biases; a convolution's
/// kernels (k, k, C, F), then its biases).
/// </summary>
public sealed class NetworkShape : IEquatable<NetworkShape>
{
    /// <summary>Deeper than any network of these kinds trains well without normalisation; a bound that keeps every count small.</summary>
    public const int MaxHiddenLayers = 64;

    private readonly LayerSpec[] hidden;

    /// <exception cref="UserInputException">A spec's argument is not its kind's.</exception>
    public NetworkShape(int inputs, IReadOnlyList<LayerSpec> hiddenLayers, int classes)
    {
        Inputs = inputs;
        hidden = [.. hiddenLayers];
        Classes = classes;
        var layers = new Layer[hidden.Length + 1];
        long offset = 0;
        var rows = FeatureShape.OfInput(inputs);
        for (int i = 0; i < layers.Length; i++)
        {
            layers[i] = i < hidden.Length ? hidden[i].Kind.Create(hidden[i].Argument, rows, offset) : new DenseLayerShape(rows, classes, offset, relu: false);
            rows = layers[i].Output;
            offset = Sizes.Sum(offset, layers[i].ParameterCount);
        }

        Layers = layers;
        TotalParameters = offset;
        StateCount = layers.Sum(layer => (long)layer.StateCount) is var state and <= int.MaxValue ? (int)state : int.MaxValue;
        (DenseLayers, DropoutsAfter) = DenseStack(layers);
    }

    /// <summary>Dense hidden layers of these widths.</summary>
    public NetworkShape(int inputs, IReadOnlyList<int> hiddenWidths, int classes)
        : this(inputs, hiddenWidths.Select(width => (LayerSpec)width).ToArray(), classes)
    {
    }

    /// <summary>One dense hidden layer of <paramref name="hidden"/> units, as in the seed network.</summary>
    public NetworkShape(int inputs, int hidden, int classes)
        : this(inputs, [hidden], classes)
    {
    }

    /// <summary>The Keras MNIST example: 784 → 512 → 10.</summary>
    public static NetworkShape Default { get; } = new(784, 512, 10);

    public int Inputs { get; }

    /// <summary>What the network does to each pixel before its first layer (<see cref="InputScaling"/>): byte / 255 unless the run standardised its inputs.</summary>
    public InputScaling Scaling { get; init; } = InputScaling.Unit;

    /// <summary>The hidden layers as specs, input side first.</summary>
    public IReadOnlyList<LayerSpec> HiddenLayers => hidden;

    /// <summary>The first hidden layer's values per image: the layer the images feed.</summary>
    public int Hidden => Layers[0].Outputs;

    public int Classes { get; }

    /// <summary>Every layer, input side first; the last is the dense output layer.</summary>
    public IReadOnlyList<Layer> Layers { get; }

    /// <summary>
    /// Whether every layer is dense but for Dropouts, each right after a hidden dense layer: what the
    /// dense fused steps (3 launches a step for one hidden layer) are written for, the dropouts folded
    /// in; other networks fuse per layer.
    /// </summary>
    public bool IsDenseStack => DenseLayers.Count > 0;

    /// <summary>The dense layers of a dense stack (<see cref="IsDenseStack"/>); empty otherwise.</summary>
    public IReadOnlyList<DenseLayerShape> DenseLayers { get; }

    /// <summary>Per dense layer of <see cref="DenseLayers"/>, the Dropout right after it and its position in <see cref="Layers"/>, or null.</summary>
    internal IReadOnlyList<(DropoutLayerShape Layer, int Position)?> DropoutsAfter { get; }

    public int ParameterCount => checked((int)TotalParameters);

    /// <summary>Where dense layer <paramref name="dense"/> of <see cref="DenseLayers"/> is in <see cref="Layers"/>.</summary>
    internal int PositionOfDense(int dense)
    {
        int position = 0;
        for (int i = 0; i < dense; i++)
            position += DropoutsAfter[i] is null ? 1 : 2;
        return position;
    }

    /// <summary>Values every layer keeps untrained (<see cref="Layer.StateCount"/>), layer after layer: the network's state array.</summary>
    public int StateCount { get; }

    /// <summary>Where layer <paramref name="layer"/>'s state starts in the state array.</summary>
    public int StateOffset(int layer) => Layers.Take(layer).Sum(l => l.StateCount);

    /// <summary>The state every layer starts with (<see cref="Layer.InitializeState"/>).</summary>
    public float[] InitialState()
    {
        var state = new float[StateCount];
        for (int i = 0; i < Layers.Count; i++)
            Layers[i].InitializeState(state.AsSpan(StateOffset(i), Layers[i].StateCount));
        return state;
    }

    private long TotalParameters { get; }

    public static bool operator ==(NetworkShape? left, NetworkShape? right) => Equals(left, right);

    public static bool operator !=(NetworkShape? left, NetworkShape? right) => !Equals(left, right);

    /// <summary>Hidden layers as the command line writes them, e.g. "512,256".</summary>
    public static string FormatLayers(IReadOnlyList<LayerSpec> layers) => string.Join(',', layers);

    /// <summary>e.g. 784-512-256-10.</summary>
    public override string ToString() => string.Join('-', [Inputs, .. hidden.Select(spec => spec.ToString()), Classes]);

    public bool Equals(NetworkShape? other) =>
        other is not null && Inputs == other.Inputs && Classes == other.Classes && hidden.AsSpan().SequenceEqual(other.hidden) && Scaling == other.Scaling;

    public override bool Equals(object? obj) => Equals(obj as NetworkShape);

    public override int GetHashCode() => HashCode.Combine(Inputs, Classes, ToString());

    /// <summary>The dense layers and the dropout after each, when <paramref name="layers"/> are dense ones with at most one Dropout after each hidden one; empty lists otherwise.</summary>
    private static (DenseLayerShape[] Dense, (DropoutLayerShape, int)?[] Dropouts) DenseStack(Layer[] layers)
    {
        var dense = new List<DenseLayerShape>();
        var dropouts = new List<(DropoutLayerShape, int)?>();
        for (int i = 0; i < layers.Length; i++)
        {
            if (layers[i] is DenseLayerShape layer)
            {
                dense.Add(layer);
                dropouts.Add(null);
            }
            else if (layers[i] is DropoutLayerShape dropout && i > 0 && layers[i - 1] is DenseLayerShape && dropouts[^1] is null)
            {
                dropouts[^1] = (dropout, i);
            }
            else
            {
                return ([], []);
            }
        }

        return ([.. dense], [.. dropouts]);
    }

    /// <summary>
    /// Checks, in 64-bit arithmetic, that every size is positive and that the flat parameter
    /// array can exist at all, before anything computes <see cref="ParameterCount"/> (which would
    /// overflow) or allocates.
    /// </summary>
    /// <exception cref="UserInputException">A size is out of range, or the network is too large for one array.</exception>
    public void Validate()
    {
        string tooSmall = $"a network needs at least 1 input, at least one hidden layer of at least 1 unit, and 2 classes, not {this}";
        if (Inputs < 1 || hidden.Length == 0 || Classes < 2)
            throw new UserInputException(tooSmall);
        if (hidden.Length > MaxHiddenLayers)
            throw new UserInputException($"a network of {hidden.Length} hidden layers is beyond this engine's {MaxHiddenLayers}");
        if (Layers.Select((layer, i) => layer.Problem is { } problem ? $"layer {i + 1} ({layer.Spec}): {problem}" : null).FirstOrDefault(problem => problem is not null) is { } found)
            throw new UserInputException(found);
        if (Layers.Any(layer => layer.Output.Height < 1 || layer.Output.Width < 1 || layer.Output.Channels < 1))
            throw new UserInputException(tooSmall);
        if (Layers.FirstOrDefault(layer => layer.Output.Size > int.MaxValue || layer.ScratchPerRow > int.MaxValue) is { } huge)
            throw new UserInputException($"a {huge.Output} layer ({huge.Spec}) has more values per image than one array holds");
        if (TotalParameters > Array.MaxLength)
            throw new UserInputException($"a {this} network has {(TotalParameters == long.MaxValue ? "more parameters than a 64-bit count holds" : $"{TotalParameters:N0} parameters")}; one array holds at most {Array.MaxLength:N0}");
    }

    /// <summary>Where flat parameter <paramref name="index"/> sits, for messages: "layer 1 (784->512) weight [3, 17]".</summary>
    public string Locate(int index)
    {
        foreach (var (layer, number) in Layers.Select((layer, i) => (layer, i + 1)))
        {
            int offset = index - layer.Offset;
            if (offset >= 0 && offset < layer.ParameterCount)
                return $"layer {number} ({layer.Inputs}->{layer.Outputs}) {layer.Locate(offset)}";
        }

        return "past the last layer";
    }
}
