using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using MnistGpu.Kernels;

namespace MnistGpu.Engine.Backends.Host;

/// <summary>
/// The host's work between the products: 2×2 max pooling forward and backward, split across the
/// pool by whole images, and the masked copy (the convolutions themselves are
/// <see cref="HostConvolutionProducts{TVec}"/>). Allocates nothing: one instance holds the
/// operation under way for its parts.
/// </summary>
internal sealed class HostConvolution(WorkerPool pool) : IParallelWork
{
    private enum Work
    {
        PoolForward,
        PoolBackward,
    }

    private Work work;
    private MapShape pooled;
    private Memory<float> maps, output, inputGradients;
    private int batch;
    private bool relu;

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
        (maps, output, inputGradients, relu) = (x, dy, dx, mask);
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

        ref float source0 = ref MemoryMarshal.GetReference(source[..length]);
        ref float activation0 = ref MemoryMarshal.GetReference(activation[..length]);
        ref float target0 = ref MemoryMarshal.GetReference(target[..length]);
        int i = 0;
        for (; i <= length - Vector256<float>.Count; i += Vector256<float>.Count)
        {
            var positive = Vector256.GreaterThan(Vector256.LoadUnsafe(ref activation0, (nuint)i), Vector256<float>.Zero);
            Vector256.ConditionalSelect(positive, Vector256.LoadUnsafe(ref source0, (nuint)i), Vector256<float>.Zero).StoreUnsafe(ref target0, (nuint)i);
        }

        for (; i < length; i++)
            target[i] = activation[i] > 0f ? source[i] : 0f;
    }

    public void Execute(int part)
    {
        int parts = Math.Min(pool.Threads, batch);
        for (int image = batch * part / parts, end = batch * (part + 1) / parts; image < end; image++)
        {
            switch (work)
            {
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
        (maps, output, inputGradients) = (default, default, default);
    }

    private void PoolForwardImage(int image)
    {
        var s = pooled;
        int outHeight = s.Height / 2, outWidth = s.Width / 2, c = s.Channels, line = s.Width * c;
        var x = maps.Span.Slice(image * s.Size, s.Size);
        var y = output.Span.Slice(image * outHeight * outWidth * c, outHeight * outWidth * c);
        ref float x0 = ref MemoryMarshal.GetReference(x);
        ref float y0 = ref MemoryMarshal.GetReference(y);
        for (int oh = 0; oh < outHeight; oh++)
        {
            for (int ow = 0; ow < outWidth; ow++)
            {
                int first = (2 * oh * s.Width + 2 * ow) * c, target = (oh * outWidth + ow) * c, channel = 0;
                for (; channel <= c - Vector256<float>.Count; channel += Vector256<float>.Count)
                {
                    var (a, b, lower, d) = Window(ref x0, first + channel, line, c);
                    Vector256.Max(Vector256.Max(a, b), Vector256.Max(lower, d)).StoreUnsafe(ref y0, (nuint)(target + channel));
                }

                for (; channel < c; channel++)
                    y[target + channel] = x[FirstMaximum(x, first + channel, line, c)];
            }
        }
    }

    private void PoolBackwardImage(int image)
    {
        var s = pooled;
        int outHeight = s.Height / 2, outWidth = s.Width / 2, c = s.Channels, line = s.Width * c;
        var x = maps.Span.Slice(image * s.Size, s.Size);
        var dy = output.Span.Slice(image * outHeight * outWidth * c, outHeight * outWidth * c);
        var dx = inputGradients.Span.Slice(image * s.Size, s.Size);
        // Every window's four inputs are written below; only a dropped last row or column needs zeros.
        if (s.Height % 2 == 1)
            dx[((s.Height - 1) * line)..].Clear();
        for (int h = 0; s.Width % 2 == 1 && h < 2 * outHeight; h++)
            dx.Slice(h * line + (s.Width - 1) * c, c).Clear();
        ref float x0 = ref MemoryMarshal.GetReference(x);
        ref float dy0 = ref MemoryMarshal.GetReference(dy);
        ref float dx0 = ref MemoryMarshal.GetReference(dx);
        for (int oh = 0; oh < outHeight; oh++)
        {
            for (int ow = 0; ow < outWidth; ow++)
            {
                int first = (2 * oh * s.Width + 2 * ow) * c, source = (oh * outWidth + ow) * c, channel = 0;
                for (; channel <= c - Vector256<float>.Count; channel += Vector256<float>.Count)
                {
                    int at = first + channel;
                    var (a, b, lower, d) = Window(ref x0, at, line, c);
                    var max = Vector256.Max(Vector256.Max(a, b), Vector256.Max(lower, d));
                    var gradient = Vector256.LoadUnsafe(ref dy0, (nuint)(source + channel));
                    // The first maximum in row-major order takes the gradient, as the kernels' chain of strict comparisons picks it.
                    var isA = Vector256.Equals(a, max);
                    var isB = Vector256.AndNot(Vector256.Equals(b, max), isA);
                    var taken = isA | isB;
                    var isLower = Vector256.AndNot(Vector256.Equals(lower, max), taken);
                    var isD = ~(taken | isLower);
                    Route(isA, a, gradient, ref dx0, at);
                    Route(isB, b, gradient, ref dx0, at + c);
                    Route(isLower, lower, gradient, ref dx0, at + line);
                    Route(isD, d, gradient, ref dx0, at + line + c);
                }

                for (; channel < c; channel++)
                {
                    int at = first + channel;
                    int best = FirstMaximum(x, at, line, c);
                    dx[at] = dx[at + c] = dx[at + line] = dx[at + line + c] = 0f;
                    if (!relu || x[best] > 0f)
                        dx[best] = dy[source + channel];
                }
            }
        }
    }

    private static (Vector256<float> A, Vector256<float> B, Vector256<float> Lower, Vector256<float> D) Window(ref float x0, int at, int line, int channels) =>
        (Vector256.LoadUnsafe(ref x0, (nuint)at), Vector256.LoadUnsafe(ref x0, (nuint)(at + channels)),
         Vector256.LoadUnsafe(ref x0, (nuint)(at + line)), Vector256.LoadUnsafe(ref x0, (nuint)(at + line + channels)));

    /// <summary>dx = the gradient where this input is the window's pick (and, with the ReLU mask, positive), else 0.</summary>
    private void Route(Vector256<float> picked, Vector256<float> input, Vector256<float> gradient, ref float dx0, int at)
    {
        if (relu)
            picked &= Vector256.GreaterThan(input, Vector256<float>.Zero);
        Vector256.ConditionalSelect(picked, gradient, Vector256<float>.Zero).StoreUnsafe(ref dx0, (nuint)at);
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
