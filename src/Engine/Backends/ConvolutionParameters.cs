using MnistGpu.Kernels;

namespace MnistGpu.Engine.Backends;

/// <summary>
/// A convolution's kernels (k,k,C,F) and biases (F) as the (k·k·C+1, F) matrix a dense layer's
/// parameters are (<see cref="DenseParameters"/>: the kernels are the weights of the unrolled
/// patches), its geometry, and how an ILGPU device computes its products.
/// </summary>
public sealed record ConvolutionParameters(DenseParameters Matrix, ConvolutionShape Shape, ConvolutionAlgorithm Algorithm = ConvolutionAlgorithm.Implicit);

/// <summary>
/// How an ILGPU device computes a convolution's three products. The host and the reference each
/// have one form of their own and ignore it.
/// </summary>
public enum ConvolutionAlgorithm
{
    /// <summary>Each product one implicit-GEMM kernel that reads its patches where it needs them.</summary>
    Implicit,

    /// <summary>The plain definition (<c>--unfused</c>): patches unrolled into scratch, multiplied by the matrix kernels, folded back.</summary>
    Unrolled,
}

/// <summary>Feature maps of one image: height × width × channels, channels last.</summary>
public readonly record struct MapShape(int Height, int Width, int Channels)
{
    public int Size => Height * Width * Channels;
}
