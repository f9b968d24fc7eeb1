using System.Globalization;
using MnistGpu.Engine.Backends;
using MnistGpu.Engine.Operations.Copy;
using MnistGpu.Engine.Operations.Dropout;
using MnistGpu.Kernels;

namespace MnistGpu.Engine.Model.Layers;

/// <summary>
/// Keras' Dropout: while training, each value is kept with probability 1 − rate and scaled by
/// 1 / (1 − rate), the others set to 0; when evaluating, predicting, serving and in ONNX, the
/// identity. The mask is <see cref="DropoutMask"/>'s, drawn from the run's seed, the step and the
/// layer's position, so every device draws the same one. Spec: "dropout:RATE", 0 ≤ rate &lt; 1.
/// </summary>
public sealed class Dropout : ILayerKind
{
    private Dropout()
    {
    }

    public static Dropout Kind { get; } = new();

    public string Name => "dropout";

    public string TypeName => "Dropout";

    public string Usage => "dropout:<rate>";

    public Layer Create(string argument, FeatureShape input, long offset) =>
        double.TryParse(argument, NumberStyles.AllowDecimalPoint | NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out double rate) && argument.Length > 0
            ? rate is >= 0 and < 1
                ? new DropoutLayerShape(input, rate, argument, offset)
                : throw new UserInputException($"a dropout's rate is from 0 up to (not including) 1, not {argument}")
            : throw new UserInputException($"a dropout's rate is a number from 0 up to (not including) 1, as in 'dropout:0.5', not 'dropout{(argument.Length > 0 ? ":" : "")}{argument}'");
}

/// <summary>A dropout's sizes: as many values out as in, in the same layout; no parameters, no ReLU of its own.</summary>
public sealed class DropoutLayerShape(FeatureShape input, double rate, string argument, long offset)
    : Layer(Dropout.Kind, input, input, offset)
{
    /// <summary>The fraction of values dropped while training.</summary>
    public double Rate { get; } = rate;

    public override bool Relu => false;

    public override long ParameterCount => 0;

    public override LayerSpec Spec => new(Dropout.Kind, argument);

    public override void Initialize(Span<float> parameters, Random random, Initializer initializer)
    {
    }

    public override string Locate(int index) => "nothing: dropout keeps no parameters";

    public override LayerOnDevice Bind(ITrainingBackend backend, LayerArrays arrays) => new DropoutOnDevice(Inputs, Rate, arrays);

    public override string ToString() => $"dropout {Rate.ToString("0.###", CultureInfo.InvariantCulture)} {Input}";
}

/// <summary>A dropout on a backend: its mask's operation while training, a copy otherwise.</summary>
public sealed class DropoutOnDevice(int values, double rate, LayerArrays arrays) : LayerOnDevice(arrays.Output, arrays.OutputGradient)
{
    public override void Forward(ITrainingBackend backend, DeviceArray<float> x, int batch, bool relu, StepContext context)
    {
        if (!context.Training || rate == 0)
        {
            backend.Run(CopyOperation.Reuse(ref identity, "dropout (identity)", backward: false, x, x, Output, batch * values, relu: false));
            return;
        }

        backend.Run(Pass(context, backward: false, x, x, Output, batch, relu: false));
    }

    public override void BackwardParameters(ITrainingBackend backend, DeviceArray<float> x, int batch, StepContext context)
    {
    }

    public override void BackwardInput(ITrainingBackend backend, DeviceArray<float> activation, DeviceArray<float> dx, int batch, bool relu, StepContext context)
    {
        if (rate == 0)
        {
            backend.Run(CopyOperation.Reuse(ref identityBackward, "dropout (identity)", backward: true, OutputGradient, activation, dx, batch * values, relu));
            return;
        }

        backend.Run(Pass(context, backward: true, OutputGradient, activation, dx, batch, relu));
    }

    private DropoutOperation? forward, backward;
    private CopyOperation? identity, identityBackward;

    private DropoutOperation Pass(StepContext context, bool backward, DeviceArray<float> source, DeviceArray<float> activation, DeviceArray<float> target, int batch, bool relu) => DropoutOperation.Reuse(
        ref backward ? ref this.backward : ref forward, rate, backward, source, activation, target, batch * values, relu, DropoutMask.Key(context.Seed, context.Step, arrays.Position));
}
