namespace MnistGpu.Engine.Backends;

/// <summary>
/// A dense layer's weights (Inputs,Outputs) and biases (Outputs): views into a flat parameter
/// array, where the biases directly follow the weights, so <see cref="All"/> is the two as one
/// (Inputs+1,Outputs) matrix.
/// </summary>
public sealed record DenseParameters(DeviceArray<float> All, DeviceArray<float> Weights, DeviceArray<float> Bias, int Inputs, int Outputs);
