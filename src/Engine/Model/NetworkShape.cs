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

    public override string ToString() => $"{Inputs}-{Hidden}-{Classes}";
}

/// <summary>A dense layer's place in the flat parameter array: weights, then biases.</summary>
public readonly record struct DenseLayerShape(int Inputs, int Outputs, int Offset)
{
    public int WeightCount => Inputs * Outputs;

    public int ParameterCount => WeightCount + Outputs;

    public int WeightOffset => Offset;

    public int BiasOffset => Offset + WeightCount;
}
