using MnistGpu.Engine.Backends;

namespace MnistGpu.Engine.Model.Layers;

/// <summary>
/// One layer of a network's shape: rows of <see cref="Inputs"/> values in, <see cref="Outputs"/>
/// out, and its parameters at <see cref="Offset"/> in the network's flat array. A kind's layer
/// says what its sizes allow, lays out and initialises its parameters, and makes its form on a
/// backend (<see cref="LayerOnDevice"/>).
/// </summary>
public abstract class Layer(ILayerKind kind, int inputs, int outputs, long offset)
{
    public ILayerKind Kind { get; } = kind;

    public int Inputs { get; } = inputs;

    public int Outputs { get; } = outputs;

    /// <summary>Where the parameters start in the flat array; an oversized network's saturates, and <see cref="NetworkShape.Validate"/> refuses it first.</summary>
    public int Offset { get; } = (int)Math.Min(offset, int.MaxValue);

    /// <summary>Parameters this layer keeps, in 64-bit arithmetic so an oversized layer is caught, not wrapped.</summary>
    public abstract long ParameterCount { get; }

    /// <summary>The spec that makes this layer, e.g. "512".</summary>
    public abstract LayerSpec Spec { get; }

    /// <summary>Why these sizes cannot be a layer of this kind beyond the positive sizes <see cref="NetworkShape.Validate"/> checks for every layer (a kernel larger than its input), or null.</summary>
    public virtual string? Problem => null;

    /// <summary>Keras' initialisation of this layer's <paramref name="parameters"/> (<see cref="ParameterCount"/> of them), drawing from <paramref name="random"/>.</summary>
    public abstract void Initialize(Span<float> parameters, Random random);

    /// <summary>What parameter <paramref name="index"/> (counted from <see cref="Offset"/>) is, for messages: "weight [3, 17]".</summary>
    public abstract string Locate(int index);

    /// <summary>
    /// This layer on <paramref name="backend"/>: views of its parameters and gradients in the
    /// flat arrays, and its output and output gradient for a batch.
    /// </summary>
    public abstract LayerOnDevice Bind(ITrainingBackend backend, DeviceArray<float> parameters, DeviceArray<float> gradients, DeviceArray<float> output, DeviceArray<float> outputGradient);

    /// <summary>e.g. "dense 784->512".</summary>
    public override string ToString() => $"{Kind.Name} {Inputs}->{Outputs}";
}

/// <summary>
/// A layer on a backend, as the composed step runs it through the backend's operations. Every
/// hidden layer is followed by a ReLU: <see cref="Output"/> is after it, and
/// <see cref="OutputGradient"/> is already masked by it.
/// </summary>
public abstract class LayerOnDevice(DeviceArray<float> output, DeviceArray<float> outputGradient)
{
    /// <summary>y (B,O).</summary>
    public DeviceArray<float> Output { get; } = output;

    /// <summary>dy (B,O): the loss's gradient with respect to <see cref="Output"/>.</summary>
    public DeviceArray<float> OutputGradient { get; } = outputGradient;

    /// <summary>x (B,I) → <see cref="Output"/> (B,O), through a ReLU when <paramref name="relu"/>.</summary>
    public abstract void Forward(ITrainingBackend backend, DeviceArray<float> x, int batch, bool relu);

    /// <summary>x (B,I), <see cref="OutputGradient"/> (B,O) → this layer's parameter gradients.</summary>
    public abstract void BackwardParameters(ITrainingBackend backend, DeviceArray<float> x, int batch);

    /// <summary><see cref="OutputGradient"/> (B,O) → dx (B,I) ⊙ [activation (B,I) &gt; 0]: the input's gradient through the ReLU below.</summary>
    public abstract void BackwardInput(ITrainingBackend backend, DeviceArray<float> activation, DeviceArray<float> dx, int batch);
}
