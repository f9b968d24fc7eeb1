using System.Globalization;
using MnistGpu.Engine.Backends;

namespace MnistGpu.Engine.Model.Layers;

/// <summary>
/// Dense layers: y = x·W + b. Parameters: W (inputs, outputs) row-major as Keras stores them,
/// then b (outputs), so W and b are one (inputs+1, outputs) matrix. Spec: the width, e.g. "512".
/// Its kernels are <see cref="MnistGpu.Kernels.MatMulKernels"/>; its reference
/// <see cref="Reference.ReferenceMath.DenseForward"/> and the two backward forms.
/// </summary>
public sealed class Dense : ILayerKind
{
    private Dense()
    {
    }

    public static Dense Kind { get; } = new();

    public string Name => "dense";

    public string TypeName => "Dense";

    public string Usage => "<units> (dense, with a ReLU)";

    public static LayerSpec Spec(int width) => new(Kind, width.ToString(CultureInfo.InvariantCulture));

    /// <summary>Whether <paramref name="argument"/> is a width (any integer: its range is <see cref="Layer.Problem"/>'s to judge).</summary>
    public static bool TryWidth(string argument, out int width) =>
        int.TryParse(argument, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out width);

    public Layer Create(string argument, FeatureShape input, long offset) =>
        TryWidth(argument, out int width) ? new DenseLayerShape(input, width, offset)
        : throw new UserInputException($"a dense layer's width is a whole number, not '{argument}'");

    public string Format(string argument) => argument;
}

/// <summary>
/// A dense layer's sizes and its place in the flat parameter array: weights, then biases. It
/// takes flat rows or the network's images; feature maps need a Flatten first, since Keras'
/// Dense on maps would act per position. A ReLU follows it unless it is the output layer.
/// </summary>
public sealed class DenseLayerShape(FeatureShape input, int outputs, long offset, bool relu = true)
    : Layer(Dense.Kind, input, FeatureShape.Flat(outputs), offset)
{
    /// <summary>A dense layer on flat rows of <paramref name="inputs"/> values.</summary>
    public DenseLayerShape(int inputs, int outputs, long offset, bool relu = true)
        : this(FeatureShape.Flat(inputs), outputs, offset, relu)
    {
    }

    public override bool Relu => relu;

    public override string? Problem => Input.Layout == FeatureLayout.Maps
        ? $"a dense layer after {Input} feature maps needs a flatten before it"
        : null;

    public override long ParameterCount => ((long)Inputs + 1) * Outputs;

    /// <summary>Inputs × outputs; only for a validated shape, where it fits an int.</summary>
    public int WeightCount => Inputs * Outputs;

    public int WeightOffset => Offset;

    public int BiasOffset => Offset + WeightCount;

    public override LayerSpec Spec => Dense.Spec(Outputs);

    /// <summary>Glorot-uniform weights, U(−l, l) with l = √(6 / (fan_in + fan_out)); zero biases.</summary>
    public override void Initialize(Span<float> parameters, Random random, Initializer initializer) =>
        Initialization.Fill(parameters[..WeightCount], parameters[WeightCount..], Inputs, Outputs, random, initializer);

    public override string Locate(int index) => index < WeightCount
        ? $"weight [{index / Outputs}, {index % Outputs}]"
        : $"bias [{index - WeightCount}]";

    public override LayerOnDevice Bind(ITrainingBackend backend, LayerArrays arrays) =>
        new DenseOnDevice(Within(backend, arrays.Parameters), Within(backend, arrays.Gradients), arrays.Output, arrays.OutputGradient);

    /// <summary>This layer's weights and biases as views into a flat array of the network's layout.</summary>
    public DenseParameters Within(ITrainingBackend backend, DeviceArray<float> flat) =>
        new(
            backend.Slice(flat, Offset, (int)ParameterCount),
            backend.Slice(flat, WeightOffset, WeightCount),
            backend.Slice(flat, BiasOffset, Outputs),
            Inputs,
            Outputs);
}

/// <summary>A dense layer on a backend: its parameters and gradients (views into the flat arrays), its output and output gradient.</summary>
public sealed class DenseOnDevice(DenseParameters parameters, DenseParameters gradients, DeviceArray<float> output, DeviceArray<float> outputGradient)
    : LayerOnDevice(output, outputGradient)
{
    public DenseParameters Parameters { get; } = parameters;

    public DenseParameters Gradients { get; } = gradients;

    public override void Forward(ITrainingBackend backend, DeviceArray<float> x, int batch, bool relu, StepContext context) =>
        backend.DenseForward(Parameters, x, Output, batch, relu);

    public override void BackwardParameters(ITrainingBackend backend, DeviceArray<float> x, int batch, StepContext context) =>
        backend.DenseBackwardParameters(Gradients, x, OutputGradient, batch);

    public override void BackwardInput(ITrainingBackend backend, DeviceArray<float> activation, DeviceArray<float> dx, int batch, bool relu, StepContext context) =>
        backend.DenseBackwardInput(Parameters, OutputGradient, activation, dx, batch, relu);
}
