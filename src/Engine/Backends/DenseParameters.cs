using MnistGpu.Engine.Model;

namespace MnistGpu.Engine.Backends;

/// <summary>
/// A dense layer's weights (Inputs,Outputs) and biases (Outputs): views into a flat parameter
/// array, where the biases directly follow the weights, so <see cref="All"/> is the two as one
/// (Inputs+1,Outputs) matrix.
/// </summary>
public sealed record DenseParameters(DeviceArray<float> All, DeviceArray<float> Weights, DeviceArray<float> Bias, int Inputs, int Outputs)
{
    public static DenseParameters Within(ITrainingBackend backend, DeviceArray<float> parameters, DenseLayerShape layer) =>
        new(
            backend.Slice(parameters, layer.Offset, layer.ParameterCount),
            backend.Slice(parameters, layer.WeightOffset, layer.WeightCount),
            backend.Slice(parameters, layer.BiasOffset, layer.Outputs),
            layer.Inputs,
            layer.Outputs);
}
