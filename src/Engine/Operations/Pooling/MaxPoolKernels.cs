using ILGPU;

namespace MnistGpu.Engine.Operations.Pooling;

/// <summary>
/// 2×2 max pooling, stride 2, of maps (B,H,W,C) channels last into (B,⌊H/2⌋,⌊W/2⌋,C): a last odd
/// row or column is dropped, as Keras' 'valid' pooling does.
/// </summary>
public readonly struct MaxPoolArguments
{
    /// <summary>(B,H,W,C): the pooling's input.</summary>
    public ArrayView<float> Input { get; init; }

    /// <summary>(B,H/2,W/2,C): the output (forward), or its gradient (backward).</summary>
    public ArrayView<float> Output { get; init; }

    /// <summary>(B,H,W,C): the input's gradient (backward only).</summary>
    public ArrayView<float> InputGradient { get; init; }

    public int Height { get; init; }

    public int Width { get; init; }

    public int Channels { get; init; }

    /// <summary>1: mask the input's gradient by the ReLU below (input &gt; 0).</summary>
    public int Relu { get; init; }
}

/// <summary>The pooling's two kernels, grid-stride loops over their outputs.</summary>
public static class MaxPoolKernels
{
    /// <summary>input (B,H,W,C) → output (B,H/2,W/2,C) = the maximum of each 2×2 window.</summary>
    public static void Forward(MaxPoolArguments a)
    {
        int total = a.Output.IntLength, channels = a.Channels, outWidth = a.Width / 2, outHeight = a.Height / 2;
        for (int index = Grid.GlobalIndex.X, step = Grid.DimX * Group.DimX; index < total; index += step)
        {
            int first = WindowStart(index, channels, outWidth, outHeight, a.Width, a.Height);
            int row = a.Width * channels;
            a.Output[index] = a.Input[FirstMaximum(a.Input, first, row, channels)];
        }
    }

    /// <summary>
    /// dy (B,H/2,W/2,C), input (B,H,W,C) → dx (B,H,W,C): each window's gradient to the first of its
    /// maxima in row-major order, 0 elsewhere (and in a dropped last row or column), ⊙ [input &gt; 0] when relu.
    /// </summary>
    public static void Backward(MaxPoolArguments a)
    {
        int total = a.InputGradient.IntLength, channels = a.Channels, outWidth = a.Width / 2, outHeight = a.Height / 2;
        for (int index = Grid.GlobalIndex.X, step = Grid.DimX * Group.DimX; index < total; index += step)
        {
            int c = index % channels, rest = index / channels;
            int w = rest % a.Width;
            rest /= a.Width;
            int h = rest % a.Height, image = rest / a.Height;
            float gradient = 0f;
            int oh = h / 2, ow = w / 2;
            if (oh < outHeight && ow < outWidth && (a.Relu == 0 || a.Input[index] > 0f))
            {
                int output = ((image * outHeight + oh) * outWidth + ow) * channels + c;
                int first = WindowStart(output, channels, outWidth, outHeight, a.Width, a.Height);
                if (FirstMaximum(a.Input, first, a.Width * channels, channels) == index)
                    gradient = a.Output[output];
            }

            a.InputGradient[index] = gradient;
        }
    }

    /// <summary>The input index of the top-left element of output <paramref name="output"/>'s window.</summary>
    private static int WindowStart(int output, int channels, int outWidth, int outHeight, int width, int height)
    {
        int c = output % channels, rest = output / channels;
        int ow = rest % outWidth;
        rest /= outWidth;
        int oh = rest % outHeight, image = rest / outHeight;
        return ((image * height + 2 * oh) * width + 2 * ow) * channels + c;
    }

    /// <summary>Which of a window's four inputs is its first maximum, in row-major order: the one the forward's maximum came from.</summary>
    private static int FirstMaximum(ArrayView<float> input, int first, int row, int channels)
    {
        int best = first;
        if (input[first + channels] > input[best])
            best = first + channels;
        if (input[first + row] > input[best])
            best = first + row;
        if (input[first + row + channels] > input[best])
            best = first + row + channels;
        return best;
    }
}
