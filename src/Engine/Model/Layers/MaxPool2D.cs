using MnistGpu.Engine.Backends;
using MnistGpu.Engine.Operations.Pooling;

namespace MnistGpu.Engine.Model.Layers;

/// <summary>
/// 2×2 max pooling, stride 2, Keras' MaxPooling2D with its defaults: (H,W,C) → (⌊H/2⌋,⌊W/2⌋,C),
/// a last odd row or column dropped. No parameters. Spec: "maxpool" (or "maxpool2x2"). Its
/// operation, every form of it, is <see cref="MaxPoolOperation"/>.
/// </summary>
public sealed class MaxPool2D : ILayerKind
{
    private MaxPool2D()
    {
    }

    public static MaxPool2D Kind { get; } = new();

    public string Name => "maxpool";

    public string TypeName => "MaxPooling2D";

    public Layer Create(string argument, FeatureShape input, long offset) =>
        argument is "" or "2x2" ? new MaxPool2DLayerShape(input, offset)
        : throw new UserInputException($"max pooling is 2x2 with stride 2, written maxpool (or maxpool2x2), not 'maxpool{argument}'");

    public string Format(string argument) => $"{Name}{argument}";
}

/// <summary>A pooling's sizes; it keeps no parameters and has no ReLU of its own.</summary>
public sealed class MaxPool2DLayerShape(FeatureShape input, long offset)
    : Layer(MaxPool2D.Kind, input, new FeatureShape(input.Height / 2, input.Width / 2, input.Channels, FeatureLayout.Maps), offset)
{
    public override bool Relu => false;

    public override long ParameterCount => 0;

    public override LayerSpec Spec => new(MaxPool2D.Kind, "");

    public override string? Problem =>
        Input.Layout == FeatureLayout.Flat ? $"a pooling takes the images or feature maps, not the {Input} flat values of a flatten or dense layer before it"
        : Input.Height < 2 || Input.Width < 2 ? $"a 2x2 pooling of a {Input} input would leave less than 1x1"
        : null;

    public MapShape Maps => new(Input.Height, Input.Width, Input.Channels);

    public override void Initialize(Span<float> parameters, Random random, Initializer initializer)
    {
    }

    public override string Locate(int index) => "nothing: a pooling keeps no parameters";

    public override LayerOnDevice Bind(ITrainingBackend backend, LayerArrays arrays) => new MaxPool2DOnDevice(Maps, arrays);
}

/// <summary>A pooling on a backend: its input's shape, its output and output gradient.</summary>
public sealed class MaxPool2DOnDevice(MapShape input, LayerArrays arrays) : LayerOnDevice(arrays.Output, arrays.OutputGradient)
{
    private MaxPoolOperation? forward, backward;

    public override void Forward(ITrainingBackend backend, DeviceArray<float> x, int batch, bool relu, StepContext context) =>
        backend.Run(MaxPoolOperation.Reuse(ref forward, backward: false, input, x, Output, x, batch, relu: false));

    public override void BackwardParameters(ITrainingBackend backend, DeviceArray<float> x, int batch, StepContext context)
    {
    }

    public override void BackwardInput(ITrainingBackend backend, DeviceArray<float> activation, DeviceArray<float> dx, int batch, bool relu, StepContext context) =>
        backend.Run(MaxPoolOperation.Reuse(ref backward, backward: true, input, activation, OutputGradient, dx, batch, relu));
}
