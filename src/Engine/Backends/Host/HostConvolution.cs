using System.Numerics.Tensors;
using MnistGpu.Kernels;

namespace MnistGpu.Engine.Backends.Host;

/// <summary>
/// The host's convolution and pooling work around the products: unrolling maps (B,H,W,C) into
/// patches (B·OH·OW, k·k·C) and folding patch gradients back, 2×2 max pooling and the masked
/// copy, each split across the pool by whole images (an image's sums never depend on the split,
/// so reruns give the same bits). A patch row's k·C values for one kernel row are one contiguous
/// run of the input row: each is one copy (or one vector add), zeros where it leaves the maps.
/// Allocates nothing: one instance holds the operation under way for its parts.
/// </summary>
internal sealed class HostConvolution(WorkerPool pool) : IParallelWork
{
    private enum Work
    {
        Unroll,
        Fold,
        PoolForward,
        PoolBackward,
    }

    private Work work;
    private ConvolutionShape convolution;
    private MapShape pooled;
    private Memory<float> maps, patches, activation, output;
    private int batch;
    private bool relu;

    /// <summary>maps (B,H,W,C) → patches (B·OH·OW, k·k·C) in the kernels' (i, j, c) order.</summary>
    public void Unroll(ConvolutionShape shape, Memory<float> x, Memory<float> scratch, int rows)
    {
        convolution = shape;
        (maps, patches) = (x, scratch);
        Run(Work.Unroll, rows);
    }

    /// <summary>Patch gradients (B·OH·OW, k·k·C) → dx (B,H,W,C), summed per image, ⊙ [activation &gt; 0] when <paramref name="mask"/>.</summary>
    public void Fold(ConvolutionShape shape, Memory<float> scratch, Memory<float> dx, Memory<float> below, int rows, bool mask)
    {
        convolution = shape;
        (patches, maps, activation, relu) = (scratch, dx, below, mask);
        Run(Work.Fold, rows);
    }

    /// <summary>x (B,H,W,C) → y (B,H/2,W/2,C), each 2×2 window's maximum.</summary>
    public void MaxPoolForward(MapShape input, Memory<float> x, Memory<float> y, int rows)
    {
        pooled = input;
        (maps, output) = (x, y);
        Run(Work.PoolForward, rows);
    }

    /// <summary>dy (B,H/2,W/2,C) → dx (B,H,W,C) at each window's first maximum, ⊙ [x &gt; 0] when <paramref name="mask"/>.</summary>
    public void MaxPoolBackward(MapShape input, Memory<float> x, Memory<float> dy, Memory<float> dx, int rows, bool mask)
    {
        pooled = input;
        (maps, output, patches, relu) = (x, dy, dx, mask);
        Run(Work.PoolBackward, rows);
    }

    /// <summary>target = source, ⊙ [activation &gt; 0] when <paramref name="mask"/>.</summary>
    public static void Copy(ReadOnlySpan<float> source, ReadOnlySpan<float> activation, Span<float> target, int length, bool mask)
    {
        if (!mask)
        {
            source[..length].CopyTo(target);
            return;
        }

        for (int i = 0; i < length; i++)
            target[i] = activation[i] > 0f ? source[i] : 0f;
    }

    public void Execute(int part)
    {
        int parts = Math.Min(pool.Threads, batch);
        for (int image = batch * part / parts, end = batch * (part + 1) / parts; image < end; image++)
        {
            switch (work)
            {
                case Work.Unroll:
                    UnrollImage(image);
                    break;
                case Work.Fold:
                    FoldImage(image);
                    break;
                case Work.PoolForward:
                    PoolForwardImage(image);
                    break;
                default:
                    PoolBackwardImage(image);
                    break;
            }
        }
    }

    private void Run(Work what, int rows)
    {
        (work, batch) = (what, rows);
        pool.Run(Math.Min(pool.Threads, rows), this);
        // No reference to the operands outlives the operation: a disposed network's arrays must be collectable.
        (maps, patches, activation, output) = (default, default, default, default);
    }

    /// <summary>Kernel columns j in [From, To) of output column <paramref name="ow"/> fall inside the maps.</summary>
    private static (int From, int To) Inside(ConvolutionShape s, int ow) =>
        (Math.Max(0, s.Padding - ow), Math.Min(s.KernelSize, s.Width + s.Padding - ow));

    private void UnrollImage(int image)
    {
        var s = convolution;
        int run = s.KernelSize * s.Channels, imageSize = s.Height * s.Width * s.Channels;
        var x = maps.Span.Slice(image * imageSize, imageSize);
        var rows = patches.Span.Slice(image * s.Positions * s.PatchSize, s.Positions * s.PatchSize);
        for (int oh = 0; oh < s.OutputHeight; oh++)
        {
            for (int ow = 0; ow < s.OutputWidth; ow++)
            {
                var (from, to) = Inside(s, ow);
                var row = rows.Slice((oh * s.OutputWidth + ow) * s.PatchSize, s.PatchSize);
                for (int i = 0; i < s.KernelSize; i++)
                {
                    var target = row.Slice(i * run, run);
                    int h = oh + i - s.Padding;
                    if (h < 0 || h >= s.Height || from >= to)
                    {
                        target.Clear();
                        continue;
                    }

                    target[..(from * s.Channels)].Clear();
                    x.Slice((h * s.Width + ow + from - s.Padding) * s.Channels, (to - from) * s.Channels).CopyTo(target[(from * s.Channels)..]);
                    target[(to * s.Channels)..].Clear();
                }
            }
        }
    }

    private void FoldImage(int image)
    {
        var s = convolution;
        int run = s.KernelSize * s.Channels, imageSize = s.Height * s.Width * s.Channels;
        var dx = maps.Span.Slice(image * imageSize, imageSize);
        var rows = patches.Span.Slice(image * s.Positions * s.PatchSize, s.Positions * s.PatchSize);
        dx.Clear();
        for (int oh = 0; oh < s.OutputHeight; oh++)
        {
            for (int ow = 0; ow < s.OutputWidth; ow++)
            {
                var (from, to) = Inside(s, ow);
                if (from >= to)
                    continue;
                var row = rows.Slice((oh * s.OutputWidth + ow) * s.PatchSize, s.PatchSize);
                for (int i = 0; i < s.KernelSize; i++)
                {
                    int h = oh + i - s.Padding;
                    if (h < 0 || h >= s.Height)
                        continue;
                    var target = dx.Slice((h * s.Width + ow + from - s.Padding) * s.Channels, (to - from) * s.Channels);
                    TensorPrimitives.Add(target, row.Slice(i * run + from * s.Channels, target.Length), target);
                }
            }
        }

        if (relu)
            Copy(dx, activation.Span.Slice(image * imageSize, imageSize), dx, imageSize, mask: true);
    }

    private void PoolForwardImage(int image)
    {
        var s = pooled;
        int outHeight = s.Height / 2, outWidth = s.Width / 2, c = s.Channels, line = s.Width * c;
        var x = maps.Span.Slice(image * s.Size, s.Size);
        var y = output.Span.Slice(image * outHeight * outWidth * c, outHeight * outWidth * c);
        for (int oh = 0; oh < outHeight; oh++)
        {
            for (int ow = 0; ow < outWidth; ow++)
            {
                int first = (2 * oh * s.Width + 2 * ow) * c;
                var target = y.Slice((oh * outWidth + ow) * c, c);
                for (int channel = 0; channel < c; channel++)
                    target[channel] = x[FirstMaximum(x, first + channel, line, c)];
            }
        }
    }

    private void PoolBackwardImage(int image)
    {
        var s = pooled;
        int outHeight = s.Height / 2, outWidth = s.Width / 2, c = s.Channels, line = s.Width * c;
        var x = maps.Span.Slice(image * s.Size, s.Size);
        var dy = output.Span.Slice(image * outHeight * outWidth * c, outHeight * outWidth * c);
        var dx = patches.Span.Slice(image * s.Size, s.Size);
        dx.Clear();
        for (int oh = 0; oh < outHeight; oh++)
        {
            for (int ow = 0; ow < outWidth; ow++)
            {
                int first = (2 * oh * s.Width + 2 * ow) * c;
                for (int channel = 0; channel < c; channel++)
                {
                    int at = FirstMaximum(x, first + channel, line, c);
                    if (!relu || x[at] > 0f)
                        dx[at] = dy[(oh * outWidth + ow) * c + channel];
                }
            }
        }
    }

    /// <summary>The first of a 2×2 window's maxima in row-major order, as <see cref="PoolingKernels"/> picks it.</summary>
    private static int FirstMaximum(ReadOnlySpan<float> x, int first, int line, int channels)
    {
        int best = first;
        if (x[first + channels] > x[best])
            best = first + channels;
        if (x[first + line] > x[best])
            best = first + line;
        if (x[first + line + channels] > x[best])
            best = first + line + channels;
        return best;
    }
}
