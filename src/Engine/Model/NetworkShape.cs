namespace MnistGpu.Engine.Model;

/// <summary>
/// The network: Dense(Inputs→Hidden, ReLU) → Dense(Hidden→Classes, softmax). Its parameters live
/// in one flat array, in the order W1 (Inputs,Hidden), b1 (Hidden), W2 (Hidden,Classes),
/// b2 (Classes), weights row-major as Keras stores them, so one optimizer launch updates them all.
/// </summary>
public sealed record NetworkShape(int Inputs, int Hidden, int Classes)
{
    /// <summary>The Keras MNIST example: 784 → 512 → 10.</summary>
    public static NetworkShape Default { get; } = new(784, 512, 10);

    public int ParameterCount => HiddenLayer.ParameterCount + OutputLayer.ParameterCount;

    public DenseLayerShape HiddenLayer => new(Inputs, Hidden, Offset: 0);

    public DenseLayerShape OutputLayer => new(Hidden, Classes, Offset: HiddenLayer.ParameterCount);

    /// <summary>Every dense layer, input side first.</summary>
    public IReadOnlyList<DenseLayerShape> Layers => [HiddenLayer, OutputLayer];

    public override string ToString() => $"{Inputs}-{Hidden}-{Classes}";

    /// <summary>
    /// Checks, in 64-bit arithmetic, that every size is positive and that the flat parameter
    /// array can exist at all, before anything computes <see cref="ParameterCount"/> (which would
    /// overflow) or allocates.
    /// </summary>
    /// <exception cref="UserInputException">A size is out of range, or the network is too large for one array.</exception>
    public void Validate()
    {
        if (Inputs < 1 || Hidden < 1 || Classes < 2)
            throw new UserInputException($"a network needs at least 1 input, 1 hidden unit and 2 classes, not {this}");
        long parameters = ((long)Inputs + 1) * Hidden + ((long)Hidden + 1) * Classes;
        if (parameters > Array.MaxLength)
            throw new UserInputException($"a {this} network has {parameters:N0} parameters; one array holds at most {Array.MaxLength:N0}");
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
