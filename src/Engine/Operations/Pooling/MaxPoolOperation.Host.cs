using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using MnistGpu.Engine.Backends;
using MnistGpu.Engine.Backends.Host;

namespace MnistGpu.Engine.Operations.Pooling;

/// <summary>
/// The host's form: whole images split over the host's threads, eight channels of a window at a
/// time; the first maximum in row-major order wins, as the kernels' chain of strict comparisons
/// picks it, so every device agrees to the bit.
/// </summary>
public sealed partial class MaxPoolOperation
{
    /// <summary>The host's work for this operation, made on its first run: a layer runs the same operation every step.</summary>
    private HostPass? hostPass;

    internal override void RunHost(ITrainingBackend host)
    {
        var pool = ((HostBackend)host).Pool;
        var pass = hostPass ??= new HostPass(this);
        pass.Parts = Math.Min(pool.Threads, Batch);
        pool.Run(pass.Parts, pass);
    }

    /// <summary>Images [B·p/parts, B·(p+1)/parts) of the batch, for part p.</summary>
    private sealed class HostPass(MaxPoolOperation op) : IParallelWork
    {
        private readonly Memory<float> maps = Whole(op.Maps), output = Whole(op.Output), inputGradients = Whole(op.InputGradients);

        /// <summary>The parts the batch is split into.</summary>
        public int Parts { get; set; }

        public void Execute(int part)
        {
            int parts = Parts, batch = op.Batch;
            for (int image = batch * part / parts, end = batch * (part + 1) / parts; image < end; image++)
            {
                if (op.Backward)
                    BackwardImage(image);
                else
                    ForwardImage(image);
            }
        }

        private void ForwardImage(int image)
        {
            var s = op.Input;
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

        private void BackwardImage(int image)
        {
            var s = op.Input;
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
                        if (!op.Relu || x[best] > 0f)
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
            if (op.Relu)
                picked &= Vector256.GreaterThan(input, Vector256<float>.Zero);
            Vector256.ConditionalSelect(picked, gradient, Vector256<float>.Zero).StoreUnsafe(ref dx0, (nuint)at);
        }

        private static Memory<float> Whole(DeviceArray<float> array) => HostArray<float, float>.Of(array).Memory;

        /// <summary>The first of a 2×2 window's maxima in row-major order, as <see cref="MaxPoolKernels"/> picks it.</summary>
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
}
