using System.Runtime.CompilerServices;
using ILGPU;

namespace MnistGpu.Kernels;

/// <summary>
/// A convolution's three products — forward (B·OH·OW, k·k·C)×(k·k·C, F), input gradient
/// (B·H·W, k·k·F)×(k·k·F, C), kernel gradient (k·k·C+1, B·OH·OW)×(B·OH·OW, F) — with the patches
/// computed where they are read instead of unrolled into global memory (implicit GEMM). Two forms,
/// as for the dense products: panels of fat work items for devices whose threads are CPU cores,
/// shared-memory tiles for GPUs. The panels sum every output's terms in exactly the order the
/// unrolled composition does (<see cref="ConvolutionKernels.Unroll"/>, a product,
/// <see cref="ConvolutionKernels.Fold"/>), so the two agree to the bit; the tiles sum the input
/// gradient's terms in another order, so they agree to float rounding. A 2×2 max pooling can run
/// in the epilogues (<see cref="ConvolutionForwardArguments.PoolHeight"/>): the forward's, after the
/// convolution, and the input gradient's, sending each value through the pooling below.
/// </summary>
public static partial class ImplicitConvolutionKernels
{
    private const int Rows = MatMulKernels.PanelRows;
    private const int Cols = MatMulKernels.PanelCols;
    private const int Block = MatMulKernels.SharedBlock;
    private const int Depth = MatMulKernels.SharedDepth;
    private const int GroupSize = MatMulKernels.SharedGroupSize;
    private const int Side = MatMulKernels.SharedSide;

    /// <summary>
    /// The offset of a position outside the maps (padding). Not −1: ILGPU writes a negative
    /// constant into OpenCL C as its unsigned value, which OpenCL compilers warn about.
    /// </summary>
    private const int Outside = int.MaxValue;

    /// <summary>patches[row, column] of x: row (b, oh, ow), column (i, j, c); 0 in the padding.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float PatchValue(ConvolutionInput input, ConvolutionShape s, int row, int column)
    {
        int image = row / s.Positions, position = row - image * s.Positions;
        int oh = position / s.OutputWidth, ow = position - oh * s.OutputWidth;
        int rowLength = s.KernelSize * s.Channels;
        int i = column / rowLength, rest = column - i * rowLength;
        int j = rest / s.Channels, c = rest - j * s.Channels;
        int h = oh + i - s.Padding, w = ow + j - s.Padding;
        return h >= 0 && h < s.Height && w >= 0 && w < s.Width ? input.Value(((input.StoredImage(image) * s.Height + h) * s.Width + w) * s.Channels + c) : 0f;
    }

    /// <summary>The input gradient's left operand: row (b, h, w), column (i, j, f) → dy[b, h−i+pad, w−j+pad, f]; 0 outside.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float GradientPatchValue(ArrayView<float> dy, ConvolutionShape s, int row, int column)
    {
        int image = row / (s.Height * s.Width), position = row - image * s.Height * s.Width;
        int h = position / s.Width, w = position - h * s.Width;
        int rowLength = s.KernelSize * s.Filters;
        int i = column / rowLength, rest = column - i * rowLength;
        int j = rest / s.Filters, f = rest - j * s.Filters;
        int oh = h - i + s.Padding, ow = w - j + s.Padding;
        return oh >= 0 && oh < s.OutputHeight && ow >= 0 && ow < s.OutputWidth
            ? dy[((image * s.OutputHeight + oh) * s.OutputWidth + ow) * s.Filters + f]
            : 0f;
    }

    /// <summary>The input gradient's right operand: row (i, j, f), column c → kernels[i, j, c, f].</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float RearrangedKernel(ArrayView<float> kernels, ConvolutionShape s, int row, int c)
    {
        int ij = row / s.Filters, f = row - ij * s.Filters;
        return kernels[(ij * s.Channels + c) * s.Filters + f];
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float WithBias(ConvolutionForwardArguments a, float sum, int filter)
    {
        float value = sum + a.Parameters[a.Shape.PatchSize * a.Shape.Filters + filter];
        return a.Relu != 0 ? Math.Max(value, 0f) : value;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreForward(ConvolutionForwardArguments a, int rows, int row, int col, float sum)
    {
        if (row < rows && col < a.Shape.Filters)
            a.Output[row * a.Shape.Filters + col] = WithBias(a, sum, col);
    }

    /// <summary>
    /// dx at input position <paramref name="row"/>, channel <paramref name="col"/>; through a
    /// pooling, sent on to that window's maximum in the maps below (0 to the other three, and to a
    /// dropped last row or column), as the pooling's backward would.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreInputGradient(ConvolutionBackwardInputArguments a, int rows, int row, int col, float sum)
    {
        var s = a.Shape;
        if (row >= rows || col >= s.Channels)
            return;
        int index = row * s.Channels + col;
        float value = a.Relu != 0 && a.Activation[index] <= 0f ? 0f : sum;
        if (a.PoolHeight == 0)
        {
            a.InputGradients[index] = value;
            return;
        }

        int image = row / (s.Height * s.Width), position = row - image * s.Height * s.Width;
        int h = position / s.Width, w = position - h * s.Width;
        int last = 2 * h + (h == s.Height - 1 ? a.PoolHeight - 2 * h : 2) - 1, lastColumn = 2 * w + (w == s.Width - 1 ? a.PoolWidth - 2 * w : 2) - 1;
        for (int uh = 2 * h; uh <= last; uh++)
        {
            for (int uw = 2 * w; uw <= lastColumn; uw++)
            {
                int below = ((image * a.PoolHeight + uh) * a.PoolWidth + uw) * s.Channels + col;
                a.InputGradients[below] = uh < 2 * h + 2 && uw < 2 * w + 2 && a.PoolMask[below] > 0f ? value : 0f;
            }
        }
    }

    /// <summary>
    /// One pooling window's four outputs, in row-major order, after bias and ReLU: its first
    /// maximum to <see cref="ConvolutionForwardArguments.Pooled"/>, and the mask (that maximum kept, 0
    /// at the other three) to <see cref="ConvolutionForwardArguments.Output"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StorePooled(ConvolutionForwardArguments a, int window, int filter, float v0, float v1, float v2, float v3)
    {
        int best = 0;
        float maximum = v0;
        if (v1 > maximum)
        {
            best = 1;
            maximum = v1;
        }

        if (v2 > maximum)
        {
            best = 2;
            maximum = v2;
        }

        if (v3 > maximum)
        {
            best = 3;
            maximum = v3;
        }

        int filters = a.Shape.Filters;
        a.Pooled[window * filters + filter] = maximum;
        int first = OutputPosition(a, window * 4) * filters + filter, below = first + a.Shape.OutputWidth * filters;
        a.Output[first] = best == 0 ? v0 : 0f;
        a.Output[first + filters] = best == 1 ? v1 : 0f;
        a.Output[below] = best == 2 ? v2 : 0f;
        a.Output[below + filters] = best == 3 ? v3 : 0f;
    }

    /// <summary>When the forward reads the images: batchLabels (B) = labels[order[start + b]], the gather's other half.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void GatherLabels(ConvolutionForwardArguments a)
    {
        var input = a.Input;
        if (input.FromImages == 0)
            return;
        for (int b = GridStride.First; b < a.Batch; b += GridStride.Step)
            a.BatchLabels[b] = a.Labels[input.Order[input.Start + b]];
    }

    /// <summary>The forward product's rows: every output position, or with pooling four per window (the dropped last row or column not computed).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int ForwardRows(ConvolutionForwardArguments a) =>
        a.PoolHeight > 0 ? a.Batch * (a.PoolHeight / 2) * (a.PoolWidth / 2) * 4 : a.Batch * a.Shape.Positions;

    /// <summary>
    /// The output position (b·OH + oh)·OW + ow of forward row <paramref name="row"/>: the row
    /// itself, or with pooling row (b, py, px, q) of window (py, px)'s q-th position in row-major order.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int OutputPosition(ConvolutionForwardArguments a, int row)
    {
        if (a.PoolHeight == 0)
            return row;
        // At least 1 even so: a compiler may evaluate this path before the condition (PoCL trapped
        // on an optimizer kernel's division by zero that way).
        int pooledWidth = Math.Max(1, a.PoolWidth / 2), pooledHeight = Math.Max(1, a.PoolHeight / 2);
        int window = row / 4, q = row - window * 4;
        int image = window / (pooledHeight * pooledWidth), rest = window - image * pooledHeight * pooledWidth;
        int py = rest / pooledWidth, px = rest - py * pooledWidth;
        return (image * a.Shape.OutputHeight + 2 * py + q / 2) * a.Shape.OutputWidth + 2 * px + q % 2;
    }

    /// <summary>A kernel gradient's sum at (<paramref name="row"/>, <paramref name="col"/>) of its chunk, and with one chunk the parameter's update (the gradient's layout is the parameters').</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreParameterGradient(ConvolutionBackwardParametersArguments a, int chunkStart, int rows, int columns, int row, int col, float sum)
    {
        if (row >= rows || col >= columns)
            return;
        a.Sums[chunkStart + row * columns + col] = sum;
        if (a.UpdateParameters != 0)
            a.Update.Apply(row * columns + col, sum);
    }

    private static int DivUp(int value, int divisor) => (value + divisor - 1) / divisor;

    /// <summary>Where one output position's patch starts in x: its image and top-left corner, padding included.</summary>
    private readonly struct PatchOrigin
    {
        private readonly int image, top, left;

        private PatchOrigin(int image, int top, int left)
        {
            this.image = image;
            this.top = top;
            this.left = left;
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static PatchOrigin Of(ConvolutionInput input, ConvolutionShape s, int row)
        {
            int image = row / s.Positions, position = row - image * s.Positions;
            int oh = position / s.OutputWidth;
            return new PatchOrigin(input.StoredImage(image), oh - s.Padding, position - oh * s.OutputWidth - s.Padding);
        }

        /// <summary>Offset of x[image, top+i, left+j, 0], or <see cref="Outside"/> in the padding.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public int Offset(ConvolutionShape s, int i, int j)
        {
            int h = top + i, w = left + j;
            return h >= 0 && h < s.Height && w >= 0 && w < s.Width ? ((image * s.Height + h) * s.Width + w) * s.Channels : Outside;
        }
    }

    /// <summary>One input position (b, h, w) whose gradient gathers from dy at (h−i+pad, w−j+pad).</summary>
    private readonly struct GradientTarget
    {
        private readonly int image, h, w;

        private GradientTarget(int image, int h, int w)
        {
            this.image = image;
            this.h = h;
            this.w = w;
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static GradientTarget Of(ConvolutionShape s, int row)
        {
            int image = row / (s.Height * s.Width), position = row - image * s.Height * s.Width;
            int h = position / s.Width;
            return new GradientTarget(image, h, position - h * s.Width);
        }

        /// <summary>Offset of dy[image, h−i+pad, w−j+pad, 0], or <see cref="Outside"/> outside the output.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public int Offset(ConvolutionShape s, int i, int j)
        {
            int oh = h - i + s.Padding, ow = w - j + s.Padding;
            return oh >= 0 && oh < s.OutputHeight && ow >= 0 && ow < s.OutputWidth ? ((image * s.OutputHeight + oh) * s.OutputWidth + ow) * s.Filters : Outside;
        }
    }

    /// <summary>One row of the kernel gradient: a kernel element (i, j, c), or the bias's row of ones at and past k·k·C.</summary>
    private readonly struct KernelElement
    {
        private readonly int isOne;

        private KernelElement(int rowOffset, int columnOffset, int channel, int isOne)
        {
            RowOffset = rowOffset;
            ColumnOffset = columnOffset;
            Channel = channel;
            this.isOne = isOne;
        }

        /// <summary>i − pad: the row of x this element reads, less the output's row.</summary>
        public int RowOffset { get; }

        /// <summary>j − pad.</summary>
        public int ColumnOffset { get; }

        public int Channel { get; }

        /// <summary>Whether this element, row <paramref name="row"/>, and the three after it are channels c‥c+3 of one (i, j).</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public bool FirstOfFour(ConvolutionShape s, int row) => isOne == 0 && row + 3 < s.PatchSize && Channel + 3 < s.Channels;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static KernelElement Of(ConvolutionShape s, int row)
        {
            if (row >= s.PatchSize)
                return new KernelElement(0, 0, 0, 1);
            int rowLength = s.KernelSize * s.Channels;
            int i = row / rowLength, rest = row - i * rowLength;
            int j = rest / s.Channels;
            return new KernelElement(i - s.Padding, j - s.Padding, rest - j * s.Channels, 0);
        }

        /// <summary>patches[(image, oh, ow), this element] of the maps, <paramref name="storedImage"/> (<see cref="ConvolutionInput.StoredImage"/>) the image's place in them; 1 for the bias's row.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public float Value(ConvolutionInput input, ConvolutionShape s, int storedImage, int oh, int ow)
        {
            if (isOne != 0)
                return 1f;
            int h = oh + RowOffset, w = ow + ColumnOffset;
            return h >= 0 && h < s.Height && w >= 0 && w < s.Width ? input.Value(((storedImage * s.Height + h) * s.Width + w) * s.Channels + Channel) : 0f;
        }
    }

    /// <summary>A 4×16 block of sums held in registers: a panel work item's output.</summary>
    private struct Panel
    {
        private Float4 r00, r01, r02, r03, r10, r11, r12, r13, r20, r21, r22, r23, r30, r31, r32, r33;

        /// <summary>Row r += a_r · b, b the 16 values at <paramref name="start"/> + each of <paramref name="columns"/>' offsets.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Add(float a0, float a1, float a2, float a3, ArrayView<float> b, int start, PanelColumns columns)
        {
            var v0 = new Float4(b[start + columns.O0], b[start + columns.O1], b[start + columns.O2], b[start + columns.O3]);
            var v1 = new Float4(b[start + columns.O4], b[start + columns.O5], b[start + columns.O6], b[start + columns.O7]);
            var v2 = new Float4(b[start + columns.O8], b[start + columns.O9], b[start + columns.O10], b[start + columns.O11]);
            var v3 = new Float4(b[start + columns.O12], b[start + columns.O13], b[start + columns.O14], b[start + columns.O15]);
            r00.AddScaled(a0, v0); r01.AddScaled(a0, v1); r02.AddScaled(a0, v2); r03.AddScaled(a0, v3);
            r10.AddScaled(a1, v0); r11.AddScaled(a1, v1); r12.AddScaled(a1, v2); r13.AddScaled(a1, v3);
            r20.AddScaled(a2, v0); r21.AddScaled(a2, v1); r22.AddScaled(a2, v2); r23.AddScaled(a2, v3);
            r30.AddScaled(a3, v0); r31.AddScaled(a3, v1); r32.AddScaled(a3, v2); r33.AddScaled(a3, v3);
        }

        /// <summary>this += other, element by element.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void AddPanel(Panel other)
        {
            r00.Add(other.r00); r01.Add(other.r01); r02.Add(other.r02); r03.Add(other.r03);
            r10.Add(other.r10); r11.Add(other.r11); r12.Add(other.r12); r13.Add(other.r13);
            r20.Add(other.r20); r21.Add(other.r21); r22.Add(other.r22); r23.Add(other.r23);
            r30.Add(other.r30); r31.Add(other.r31); r32.Add(other.r32); r33.Add(other.r33);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public readonly float Get(int row, int column)
        {
            var quarter = (row * 4 + column / 4) switch
            {
                0 => r00,
                1 => r01,
                2 => r02,
                3 => r03,
                4 => r10,
                5 => r11,
                6 => r12,
                7 => r13,
                8 => r20,
                9 => r21,
                10 => r22,
                11 => r23,
                12 => r30,
                13 => r31,
                14 => r32,
                _ => r33,
            };
            return quarter[column % 4];
        }
    }

    /// <summary>
    /// The 16 columns a panel work item reads, col0‥col0+15, as offsets column·stride, those past
    /// the last column re-reading it (their sums are never stored): computed once per work item.
    /// </summary>
    private readonly struct PanelColumns
    {
        public readonly int O0, O1, O2, O3, O4, O5, O6, O7, O8, O9, O10, O11, O12, O13, O14, O15;

        public PanelColumns(int col0, int columns, int stride)
        {
            int last = columns - 1;
            O0 = Math.Min(col0, last) * stride;
            O1 = Math.Min(col0 + 1, last) * stride;
            O2 = Math.Min(col0 + 2, last) * stride;
            O3 = Math.Min(col0 + 3, last) * stride;
            O4 = Math.Min(col0 + 4, last) * stride;
            O5 = Math.Min(col0 + 5, last) * stride;
            O6 = Math.Min(col0 + 6, last) * stride;
            O7 = Math.Min(col0 + 7, last) * stride;
            O8 = Math.Min(col0 + 8, last) * stride;
            O9 = Math.Min(col0 + 9, last) * stride;
            O10 = Math.Min(col0 + 10, last) * stride;
            O11 = Math.Min(col0 + 11, last) * stride;
            O12 = Math.Min(col0 + 12, last) * stride;
            O13 = Math.Min(col0 + 13, last) * stride;
            O14 = Math.Min(col0 + 14, last) * stride;
            O15 = Math.Min(col0 + 15, last) * stride;
        }
    }
}
