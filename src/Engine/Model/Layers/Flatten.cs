using MnistGpu.Engine.Backends;
using MnistGpu.Engine.Operations.Copy;

namespace MnistGpu.Engine.Model.Layers;

/// <summary>
/// Keras' Flatten: feature maps (H,W,C) as flat rows of H·W·C values in channels-last order, so a
/// dense layer's weights after it are Keras' row for row. The values do not move; on a backend it
/// is a copy (<see cref="CopyOperation"/>) forward and backward. Spec: "flatten".
/// </summary>
public sealed class Flatten : ILayerKind
{
    private Flatten()
    {
    }

    public static Flatten Kind { get; } = new();

    public string Name => "flatten";

    public string TypeName => "Flatten";

    public Layer Create(string argument, FeatureShape input, long offset) =>
        argument.Length == 0 ? new FlattenLayerShape(input, offset)
        : throw new UserInputException($"flatten takes no argument, not 'flatten{argument}'");

    public string Format(string argument) => Name;
}

/// <summary>Flatten's sizes: as many values out as in; no parameters, no ReLU of its own.</summary>
public sealed class FlattenLayerShape(FeatureShape input, long offset)
    : Layer(Flatten.Kind, input, new FeatureShape(1, 1, (int)Math.Min(input.Size, int.MaxValue), FeatureLayout.Flat), offset)
{
    public override bool Relu => false;

    public override long ParameterCount => 0;

    public override LayerSpec Spec => new(Flatten.Kind, "");

    public override void Initialize(Span<float> parameters, Random random, Initializer initializer)
    {
    }

    public override string Locate(int index) => "nothing: flatten keeps no parameters";

    public override LayerOnDevice Bind(ITrainingBackend backend, LayerArrays arrays) => new FlattenOnDevice(Inputs, arrays);
}

/// <summary>Flatten on a backend: a copy of the batch's values each way.</summary>
public sealed class FlattenOnDevice(int values, LayerArrays arrays) : LayerOnDevice(arrays.Output, arrays.OutputGradient)
{
    private CopyOperation? forward, backward;

    public override void Forward(ITrainingBackend backend, DeviceArray<float> x, int batch, bool relu, StepContext context) =>
        backend.Run(CopyOperation.Reuse(ref forward, "flatten", backward: false, x, x, Output, batch * values, relu: false));

    public override void BackwardParameters(ITrainingBackend backend, DeviceArray<float> x, int batch, StepContext context)
    {
    }

    public override void BackwardInput(ITrainingBackend backend, DeviceArray<float> activation, DeviceArray<float> dx, int batch, bool relu, StepContext context) =>
        backend.Run(CopyOperation.Reuse(ref backward, "flatten", backward: true, OutputGradient, activation, dx, batch * values, relu));
}
