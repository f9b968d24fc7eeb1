using ILGPU;

namespace MnistGpu.Kernels;

/// <summary>
/// A k×k convolution, stride 1, on feature maps (B,H,W,C) channels last, with kernels (k,k,C,F) as
/// Keras stores them: output (B,OH,OW,F). <see cref="Padding"/> rows and columns of zeros lie
/// before the input ('same': (k−1)/2, Keras' rule, the rest after; 'valid': none).
/// </summary>
public readonly struct ConvolutionShape
{
    public ConvolutionShape(int height, int width, int channels, int kernelSize, int filters, int padding, int outputHeight, int outputWidth)
    {
        Height = height;
        Width = width;
        Channels = channels;
        KernelSize = kernelSize;
        Filters = filters;
        Padding = padding;
        OutputHeight = outputHeight;
        OutputWidth = outputWidth;
    }

    public int Height { get; }

    public int Width { get; }

    public int Channels { get; }

    public int KernelSize { get; }

    public int Filters { get; }

    public int Padding { get; }

    public int OutputHeight { get; }

    public int OutputWidth { get; }

    /// <summary>k·k·C: one output position's inputs, a row of the unrolled patches.</summary>
    public int PatchSize => KernelSize * KernelSize * Channels;

    /// <summary>OH·OW: output positions per image, rows of the unrolled patches per image.</summary>
    public int Positions => OutputHeight * OutputWidth;
}

/// <summary>
/// Between feature maps (B,H,W,C) and their unrolled patches (B·OH·OW, k·k·C), whose row for an
/// output position holds the k×k×C inputs it sees in the kernel's (i, j, c) order: the layout
/// that makes a convolution one <see cref="MatMulProblem"/> with the kernels as a (k·k·C, F)
/// matrix. The patches' length gives B.
/// </summary>
public readonly struct PatchArguments
{
    /// <summary>(B,H,W,C): the input (unrolling), or the input's gradient (folding).</summary>
    public ArrayView<float> Maps { get; init; }

    /// <summary>(B·OH·OW, k·k·C).</summary>
    public ArrayView<float> Patches { get; init; }

    /// <summary>(B,H,W,C): the input after the ReLU below, which masks the folded gradient when <see cref="Relu"/> is 1.</summary>
    public ArrayView<float> Activation { get; init; }

    public ConvolutionShape Shape { get; init; }

    public int Relu { get; init; }

    /// <summary>
    /// Unread: it makes the 4-byte fields an even number, so the struct has no trailing padding,
    /// which strict OpenCL drivers (Mesa's) refuse in an argument (KernelArgumentLayoutTests).
    /// </summary>
    public int Reserved { get; init; }
}

/// <summary>Partial sums (chunks, n) → sums (n), whose length gives n.</summary>
public readonly struct PartialSumArguments
{
    public ArrayView<float> Partials { get; init; }

    public ArrayView<float> Sums { get; init; }

    public int Chunks { get; init; }

    /// <summary>
    /// Unread: it makes the 4-byte fields an even number, so the struct has no trailing padding,
    /// which strict OpenCL drivers (Mesa's) refuse in an argument (KernelArgumentLayoutTests).
    /// </summary>
    public int Reserved { get; init; }
}

public static class ConvolutionKernels
{
    /// <summary>
    /// Positions per chunk of a kernel gradient's sum: a product's reduction runs over at most
    /// this many rows per work item, the chunks' results then summed in order by
    /// <see cref="SumPartials"/> (deterministic, no atomics). Mesa's rusticl returned wrong sums
    /// for one work item's loop of 86,528 multiply-adds, and shorter float sums round less.
    /// </summary>
    public const int ChunkRows = 16_384;

    /// <summary>Whole images per chunk of a kernel gradient's sum, for <paramref name="positions"/> output positions per image: at least one.</summary>
    public static int ImagesPerChunk(int positions) => Math.Max(1, ChunkRows / positions);

    /// <summary>Chunks of a kernel gradient's sum over <paramref name="batch"/> images of <paramref name="positions"/> output positions each.</summary>
    public static int Chunks(int batch, int positions)
    {
        int images = ImagesPerChunk(positions);
        return (batch + images - 1) / images;
    }

    /// <summary>partials (chunks, n) → sums (n) = Σ_chunk partials[chunk, i], chunk by chunk in order.</summary>
    public static void SumPartials(PartialSumArguments a)
    {
        int total = a.Sums.IntLength;
        for (int index = GridStride.First, step = GridStride.Step; index < total; index += step)
        {
            float sum = 0f;
            for (int chunk = 0; chunk < a.Chunks; chunk++)
                sum += a.Partials[chunk * total + index];
            a.Sums[index] = sum;
        }
    }

    /// <summary>
    /// maps (B,H,W,C) → patches (B·OH·OW, k·k·C): patches[(b,oh,ow), (i,j,c)] = maps[b, oh+i−pad, ow+j−pad, c], 0 outside.
    /// </summary>
    public static void Unroll(PatchArguments a)
    {
        var s = a.Shape;
        int total = a.Patches.IntLength, patch = s.PatchSize, rowLength = s.KernelSize * s.Channels;
        for (int index = GridStride.First, step = GridStride.Step; index < total; index += step)
        {
            int row = index / patch, column = index - row * patch;
            int image = row / s.Positions, position = row - image * s.Positions;
            int oh = position / s.OutputWidth, ow = position - oh * s.OutputWidth;
            int i = column / rowLength, rest = column - i * rowLength;
            int j = rest / s.Channels, c = rest - j * s.Channels;
            int h = oh + i - s.Padding, w = ow + j - s.Padding;
            a.Patches[index] = h >= 0 && h < s.Height && w >= 0 && w < s.Width
                ? a.Maps[((image * s.Height + h) * s.Width + w) * s.Channels + c]
                : 0f;
        }
    }

    /// <summary>
    /// The unrolling's transpose, as a gather (no atomics: each input element sums its own terms in a fixed order):
    /// patch gradients (B·OH·OW, k·k·C) → dx (B,H,W,C) = Σ_{i,j} patches[(b, h−i+pad, w−j+pad), (i,j,c)], ⊙ [activation &gt; 0] when relu.
    /// </summary>
    public static void Fold(PatchArguments a)
    {
        var s = a.Shape;
        int total = a.Maps.IntLength, patch = s.PatchSize, k = s.KernelSize;
        for (int index = GridStride.First, step = GridStride.Step; index < total; index += step)
        {
            float sum = 0f;
            if (a.Relu == 0 || a.Activation[index] > 0f)
            {
                int c = index % s.Channels, rest = index / s.Channels;
                int w = rest % s.Width;
                rest /= s.Width;
                int h = rest % s.Height, image = rest / s.Height;
                for (int i = 0; i < k; i++)
                {
                    int oh = h - i + s.Padding;
                    if (oh < 0 || oh >= s.OutputHeight)
                        continue;
                    for (int j = 0; j < k; j++)
                    {
                        int ow = w - j + s.Padding;
                        if (ow >= 0 && ow < s.OutputWidth)
                            sum += a.Patches[((image * s.OutputHeight + oh) * s.OutputWidth + ow) * patch + (i * k + j) * s.Channels + c];
                    }
                }
            }

            a.Maps[index] = sum;
        }
    }
}
