using MnistGpu.Engine.Backends;

namespace MnistGpu.Engine.Model.Layers;

/// <summary>
/// One layer of a network's shape: rows of <see cref="Input"/> in, <see cref="Output"/> out
/// (<see cref="Inputs"/> and <see cref="Outputs"/> values), and its parameters at
/// <see cref="Offset"/> in the network's flat array. A kind's layer says what its sizes allow,
/// lays out and initialises its parameters, and makes its form on a backend (<see cref="LayerOnDevice"/>).
/// </summary>
public abstract class Layer(ILayerKind kind, FeatureShape input, FeatureShape output, long offset)
{
    public ILayerKind Kind { get; } = kind;

    public FeatureShape Input { get; } = input;

    public FeatureShape Output { get; } = output;

    /// <summary>Values per input row; an oversized layer's saturates, and <see cref="NetworkShape.Validate"/> refuses it first.</summary>
    public int Inputs { get; } = Saturate(input.Size);

    /// <summary>Values per output row, saturating as <see cref="Inputs"/>.</summary>
    public int Outputs { get; } = Saturate(output.Size);

    /// <summary>Whether a ReLU follows this layer, so that its <see cref="LayerOnDevice.Output"/> is after it: every hidden dense layer's does.</summary>
    public virtual bool Relu => true;

    /// <summary>
    /// Values this layer keeps that training does not train (BatchNormalization's moving mean and
    /// variance): in the network's flat state array after the layers before it, saved in
    /// checkpoints, exported and shown by reports. 0 for most kinds.
    /// </summary>
    public virtual int StateCount => 0;

    /// <summary>What its state starts as (<see cref="StateCount"/> values): Keras' initial moving statistics.</summary>
    public virtual void InitializeState(Span<float> state)
    {
    }

    /// <summary>Values a training step's forward keeps for its backward (a batch's statistics): the layer's own, never saved.</summary>
    public virtual int SavedCount => 0;

    /// <summary>Floats of working space per batch row this layer's operations need on a backend (a convolution's unrolled patches), shared by every layer.</summary>
    public virtual long ScratchPerRow => 0;

    /// <summary>Where the parameters start in the flat array; an oversized network's saturates, and <see cref="NetworkShape.Validate"/> refuses it first.</summary>
    public int Offset { get; } = Saturate(offset);

    /// <summary>Parameters this layer keeps, in 64-bit arithmetic so an oversized layer is caught, not wrapped.</summary>
    public abstract long ParameterCount { get; }

    /// <summary>The spec that makes this layer, e.g. "512".</summary>
    public abstract LayerSpec Spec { get; }

    /// <summary>Why these sizes cannot be a layer of this kind beyond the positive sizes <see cref="NetworkShape.Validate"/> checks for every layer (a kernel larger than its input, maps where flat rows are needed), or null.</summary>
    public virtual string? Problem => null;

    /// <summary>A new network's values of this layer's <paramref name="parameters"/> (<see cref="ParameterCount"/> of them), drawing from <paramref name="random"/>; weights and biases as <paramref name="initializer"/> says.</summary>
    public abstract void Initialize(Span<float> parameters, Random random, Initializer initializer);

    /// <summary>What parameter <paramref name="index"/> (counted from <see cref="Offset"/>) is, for messages: "weight [3, 17]".</summary>
    public abstract string Locate(int index);

    /// <summary>
    /// This layer on <paramref name="backend"/>: views of its parameters and gradients in the
    /// network's flat arrays, and its output, output gradient and scratch for a batch.
    /// </summary>
    public abstract LayerOnDevice Bind(ITrainingBackend backend, LayerArrays arrays);

    /// <summary>e.g. "dense 784->512", "conv3x3 28x28x1->26x26x32".</summary>
    public override string ToString() => Output.Layout == FeatureLayout.Flat && Input.Layout != FeatureLayout.Maps
        ? $"{Kind.Name} {Inputs}->{Outputs}"
        : $"{Kind.Name} {Input}->{Output}";

    private static int Saturate(long value) => (int)Math.Clamp(value, int.MinValue, int.MaxValue);
}

/// <summary>
/// What a network hands a layer to bind: the flat parameter and gradient arrays (whole; the layer
/// takes its views), its output and output gradient for a batch, the scratch every layer shares,
/// its position in the network (0 for the first), which tells apart layers that draw, and its
/// state (<see cref="Layer.StateCount"/>) and saved values (<see cref="Layer.SavedCount"/>), null where it keeps none.
/// </summary>
public sealed record LayerArrays(DeviceArray<float> Parameters, DeviceArray<float> Gradients, DeviceArray<float> Output, DeviceArray<float> OutputGradient, DeviceArray<float> Scratch, int Position)
{
    public DeviceArray<float>? State { get; init; }

    public DeviceArray<float>? Saved { get; init; }

    /// <summary>How a convolution's products run on ILGPU devices: the network's choice.</summary>
    public ConvolutionAlgorithm Convolutions { get; init; }
}

/// <summary>
/// A layer on a backend, as the composed step runs it through the backend's operations. Where a
/// ReLU follows the layer (<see cref="Layer.Relu"/>), <see cref="Output"/> is after it and
/// <see cref="OutputGradient"/> is already masked by it.
/// </summary>
public abstract class LayerOnDevice(DeviceArray<float> output, DeviceArray<float> outputGradient)
{
    /// <summary>y (B,O).</summary>
    public DeviceArray<float> Output { get; } = output;

    /// <summary>dy (B,O): the loss's gradient with respect to <see cref="Output"/>.</summary>
    public DeviceArray<float> OutputGradient { get; } = outputGradient;

    /// <summary>x (B,I) → <see cref="Output"/> (B,O), through a ReLU when <paramref name="relu"/>; <paramref name="context"/> says whether the pass trains.</summary>
    public abstract void Forward(ITrainingBackend backend, DeviceArray<float> x, int batch, bool relu, StepContext context);

    /// <summary>x (B,I), <see cref="OutputGradient"/> (B,O) → this layer's parameter gradients, in the training step <paramref name="context"/> names.</summary>
    public abstract void BackwardParameters(ITrainingBackend backend, DeviceArray<float> x, int batch, StepContext context);

    /// <summary>
    /// <see cref="OutputGradient"/> (B,O) → dx (B,I): the input's gradient, through the ReLU of the
    /// layer below when <paramref name="relu"/> (dx ⊙ [activation (B,I) &gt; 0]).
    /// </summary>
    public abstract void BackwardInput(ITrainingBackend backend, DeviceArray<float> activation, DeviceArray<float> dx, int batch, bool relu, StepContext context);
}
