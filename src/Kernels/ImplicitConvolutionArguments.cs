using System.Runtime.CompilerServices;
using ILGPU;

namespace MnistGpu.Kernels;

/// <summary>
/// The maps a convolution's forward and kernel gradient read their patches from: x, or for the
/// network's first convolution the batch's images read straight from the device-resident split,
/// so that no gather launch runs before it.
/// </summary>
public readonly struct ConvolutionInput
{
    /// <summary>x (B,H,W,C), read when <see cref="FromImages"/> is 0.</summary>
    public ArrayView<float> Maps { get; init; }

    /// <summary>The split's images (N, H·W·C) uint8, read when <see cref="FromImages"/> is 1.</summary>
    public ArrayView<byte> Images { get; init; }

    /// <summary>The epoch's order (N): image b of the batch is <c>Order[Start + b]</c>.</summary>
    public ArrayView<int> Order { get; init; }

    /// <summary>The batch's first row in <see cref="Order"/>.</summary>
    public int Start { get; init; }

    /// <summary>1: the maps are the batch's images (<see cref="Images"/> through <see cref="Order"/>), each byte scaled as the gather scales it. 0: <see cref="Maps"/>.</summary>
    public int FromImages { get; init; }

    /// <summary>The network's input scaling, as the gather's (<c>GatherArguments</c>): 0 and 1 leave byte / 255 as it is.</summary>
    public float Mean { get; init; }

    public float InverseDeviation { get; init; }

    /// <summary>Where image <paramref name="image"/> of the batch lies in the maps: in the split through the order, when read from the images.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int StoredImage(int image) => FromImages != 0 ? Order[Start + image] : image;

    /// <summary>The maps' value at <paramref name="offset"/>: a float of x, or an image's byte scaled exactly as the gather's kernel (<c>GatherKernels.Batch</c>) scales it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float Value(int offset) => FromImages != 0 ? ((Images[offset] / 255f) - Mean) * InverseDeviation : Maps[offset];
}

/// <summary>
/// The forward product, y (B·OH·OW, F) = patches(x) · kernels + bias (ReLU), and with a pooling
/// after it that pooling in the epilogue; read from the images, it gathers the batch's labels too.
/// </summary>
public readonly struct ConvolutionForwardArguments
{
    public ConvolutionInput Input { get; init; }

    /// <summary>The layer's parameters: kernels (k,k,C,F), then bias (F).</summary>
    public ArrayView<float> Parameters { get; init; }

    /// <summary>y (B,OH,OW,F); with pooling only each window's first maximum kept, 0 at the other three (what the input gradient through the pooling reads as its <see cref="ConvolutionBackwardInputArguments.PoolMask"/>).</summary>
    public ArrayView<float> Output { get; init; }

    /// <summary>With pooling: (B,OH/2,OW/2,F), each 2×2 window's maximum after the ReLU. Otherwise unwritten.</summary>
    public ArrayView<float> Pooled { get; init; }

    /// <summary>The split's labels (N), gathered when <see cref="ConvolutionInput.FromImages"/> is 1.</summary>
    public ArrayView<byte> Labels { get; init; }

    /// <summary>The batch's labels (B), written when <see cref="ConvolutionInput.FromImages"/> is 1.</summary>
    public ArrayView<int> BatchLabels { get; init; }

    public ConvolutionShape Shape { get; init; }

    /// <summary>B: images.</summary>
    public int Batch { get; init; }

    /// <summary>1 applies ReLU after the bias.</summary>
    public int Relu { get; init; }

    /// <summary>The 2×2 max pooling's input height, the output's (0: no pooling).</summary>
    public int PoolHeight { get; init; }

    /// <summary>The 2×2 max pooling's input width.</summary>
    public int PoolWidth { get; init; }
}

/// <summary>
/// The input gradient, dx (B·H·W, C) = dy-patches · kernels rearranged, ⊙ [activation &gt; 0]
/// when relu; with a pooling below the layer, sent on through it to the maps below in the epilogue.
/// </summary>
public readonly struct ConvolutionBackwardInputArguments
{
    /// <summary>dy (B,OH,OW,F).</summary>
    public ArrayView<float> OutputGradients { get; init; }

    /// <summary>The layer's parameters: kernels (k,k,C,F), then bias (F, unread).</summary>
    public ArrayView<float> Parameters { get; init; }

    /// <summary>dx (B,H,W,C); through a pooling, that pooling's input gradient (B,<see cref="PoolHeight"/>,<see cref="PoolWidth"/>,C).</summary>
    public ArrayView<float> InputGradients { get; init; }

    /// <summary>The layer's input after the ReLU below (B,H,W,C), which masks dx when <see cref="Relu"/> is 1. Otherwise unread.</summary>
    public ArrayView<float> Activation { get; init; }

    /// <summary>Through a pooling: the forward's <see cref="ConvolutionForwardArguments.Output"/> of the layer below, each window's maximum kept, to send each gradient to. Otherwise unread.</summary>
    public ArrayView<float> PoolMask { get; init; }

    public ConvolutionShape Shape { get; init; }

    /// <summary>B: images.</summary>
    public int Batch { get; init; }

    /// <summary>1 masks dx by <see cref="Activation"/> &gt; 0.</summary>
    public int Relu { get; init; }

    /// <summary>The height of the maps below the pooling this layer's input came from (0: no pooling).</summary>
    public int PoolHeight { get; init; }

    /// <summary>Their width.</summary>
    public int PoolWidth { get; init; }
}

/// <summary>
/// The kernel gradient, [dW; db] (k·k·C+1, F) = [patchesᵀ; 1ᵀ]·dy, per chunk of whole images, and
/// in one chunk the optimizer's update in the epilogue when asked.
/// </summary>
public readonly struct ConvolutionBackwardParametersArguments
{
    public ConvolutionInput Input { get; init; }

    /// <summary>dy (B,OH,OW,F).</summary>
    public ArrayView<float> OutputGradients { get; init; }

    /// <summary>(chunks, k·k·C+1, F): each chunk's sums, the bias's last; one chunk is the gradient itself.</summary>
    public ArrayView<float> Sums { get; init; }

    public ConvolutionShape Shape { get; init; }

    /// <summary>B: images.</summary>
    public int Batch { get; init; }

    /// <summary>Whole images per chunk of the sum over positions; each chunk sums into its own slice of <see cref="Sums"/>.</summary>
    public int ImagesPerChunk { get; init; }

    /// <summary>1: the gradient, summed whole by one work item or group per parameter (one chunk), applies <see cref="Update"/> as each sum is stored. 0: it only stores the sums.</summary>
    public int UpdateParameters { get; init; }

    /// <summary>The layer's optimizer update, read when <see cref="UpdateParameters"/> is 1. Last: the three 4-byte fields before it leave their padding inside the struct, not at its end, which strict OpenCL drivers (Mesa's) refuse in an argument (KernelArgumentLayoutTests).</summary>
    public ParameterUpdate Update { get; init; }
}
