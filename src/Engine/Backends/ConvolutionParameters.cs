using MnistGpu.Kernels;

namespace MnistGpu.Engine.Backends;

/// <summary>
/// A convolution's kernels (k,k,C,F) and biases (F) as the (k·k·C+1, F) matrix a dense layer's
/// parameters are (<see cref="DenseParameters"/>: the kernels are the weights of the unrolled
/// patches), and its geometry.
/// </summary>
public sealed record ConvolutionParameters(DenseParameters Matrix, ConvolutionShape Shape);

/// <summary>Feature maps of one image: height × width × channels, channels last.</summary>
public readonly record struct MapShape(int Height, int Width, int Channels)
{
    public int Size => Height * Width * Channels;
}
