using MnistGpu.Engine.Backends;
using MnistGpu.Kernels;

namespace MnistGpu.Engine.Reference;

/// <summary>
/// Convolutions, pooling and the masked copy as plain loops over the definitions (no unrolled
/// patches, unlike the engine's kernels). Maps are (B,H,W,C) channels last, kernels (k,k,C,F).
/// </summary>
internal static partial class ReferenceMath
{
    /// <summary>x (B,H,W,C) ⊛ K (k,k,C,F) + bias (F) → y (B,OH,OW,F), then ReLU when <paramref name="relu"/>.</summary>
    public static void ConvolutionForward(ReadOnlySpan<double> x, ReadOnlySpan<double> kernels, ReadOnlySpan<double> bias, Span<double> y, int batch, ConvolutionShape s, bool relu)
    {
        for (int b = 0; b < batch; b++)
        {
            for (int oh = 0; oh < s.OutputHeight; oh++)
            {
                for (int ow = 0; ow < s.OutputWidth; ow++)
                {
                    for (int f = 0; f < s.Filters; f++)
                    {
                        double sum = bias[f];
                        for (int i = 0; i < s.KernelSize; i++)
                        {
                            for (int j = 0; j < s.KernelSize; j++)
                            {
                                int h = oh + i - s.Padding, w = ow + j - s.Padding;
                                if (h < 0 || h >= s.Height || w < 0 || w >= s.Width)
                                    continue;
                                for (int c = 0; c < s.Channels; c++)
                                    sum += x[Map(b, h, w, c, s.Height, s.Width, s.Channels)] * kernels[Kernel(i, j, c, f, s)];
                            }
                        }

                        y[Map(b, oh, ow, f, s.OutputHeight, s.OutputWidth, s.Filters)] = relu ? Math.Max(sum, 0.0) : sum;
                    }
                }
            }
        }
    }

    /// <summary>x (B,H,W,C), dy (B,OH,OW,F) → dK (k,k,C,F) = Σ_{b,oh,ow} x[b, oh+i−pad, ow+j−pad, c]·dy[b,oh,ow,f]; db (F) = Σ dy.</summary>
    public static void ConvolutionBackwardParameters(ReadOnlySpan<double> x, ReadOnlySpan<double> dy, Span<double> dKernels, Span<double> dBias, int batch, ConvolutionShape s)
    {
        dKernels.Clear();
        dBias.Clear();
        for (int b = 0; b < batch; b++)
        {
            for (int oh = 0; oh < s.OutputHeight; oh++)
            {
                for (int ow = 0; ow < s.OutputWidth; ow++)
                {
                    for (int f = 0; f < s.Filters; f++)
                    {
                        double g = dy[Map(b, oh, ow, f, s.OutputHeight, s.OutputWidth, s.Filters)];
                        dBias[f] += g;
                        for (int i = 0; i < s.KernelSize; i++)
                        {
                            for (int j = 0; j < s.KernelSize; j++)
                            {
                                int h = oh + i - s.Padding, w = ow + j - s.Padding;
                                if (h < 0 || h >= s.Height || w < 0 || w >= s.Width)
                                    continue;
                                for (int c = 0; c < s.Channels; c++)
                                    dKernels[Kernel(i, j, c, f, s)] += x[Map(b, h, w, c, s.Height, s.Width, s.Channels)] * g;
                            }
                        }
                    }
                }
            }
        }
    }

    /// <summary>dy (B,OH,OW,F), K (k,k,C,F) → dx (B,H,W,C) = Σ_{i,j,f} dy[b, h−i+pad, w−j+pad, f]·K[i,j,c,f], ⊙ [activation &gt; 0] when <paramref name="relu"/>.</summary>
    public static void ConvolutionBackwardInput(ReadOnlySpan<double> dy, ReadOnlySpan<double> kernels, ReadOnlySpan<double> activation, Span<double> dx, int batch, ConvolutionShape s, bool relu)
    {
        for (int b = 0; b < batch; b++)
        {
            for (int h = 0; h < s.Height; h++)
            {
                for (int w = 0; w < s.Width; w++)
                {
                    for (int c = 0; c < s.Channels; c++)
                    {
                        int at = Map(b, h, w, c, s.Height, s.Width, s.Channels);
                        double sum = 0;
                        for (int i = 0; i < s.KernelSize; i++)
                        {
                            for (int j = 0; j < s.KernelSize; j++)
                            {
                                int oh = h - i + s.Padding, ow = w - j + s.Padding;
                                if (oh < 0 || oh >= s.OutputHeight || ow < 0 || ow >= s.OutputWidth)
                                    continue;
                                for (int f = 0; f < s.Filters; f++)
                                    sum += dy[Map(b, oh, ow, f, s.OutputHeight, s.OutputWidth, s.Filters)] * kernels[Kernel(i, j, c, f, s)];
                            }
                        }

                        dx[at] = !relu || activation[at] > 0 ? sum : 0.0;
                    }
                }
            }
        }
    }

    private static int Map(int b, int h, int w, int c, int height, int width, int channels) => ((b * height + h) * width + w) * channels + c;

    private static int Kernel(int i, int j, int c, int f, ConvolutionShape s) => ((i * s.KernelSize + j) * s.Channels + c) * s.Filters + f;
}
