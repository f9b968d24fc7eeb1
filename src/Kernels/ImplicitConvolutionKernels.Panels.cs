using System.Runtime.CompilerServices;
using ILGPU;

namespace MnistGpu.Kernels;

/// <summary>The three products as panels of fat work items, for devices whose threads are CPU cores: every sum in the unrolled composition's order.</summary>
public static partial class ImplicitConvolutionKernels
{
    /// <summary>
    /// x (B,H,W,C), kernels (k·k·C, F) → y (B·OH·OW, F) = patches·kernels + bias (ReLU). Each work
    /// item computes 4 positions × 16 filters, walking (i, j) and then the channels, which lie
    /// together in memory; where all four inputs are 0 (padding, MNIST's background, ReLU's zeros)
    /// the step is skipped. With pooling the rows run window by window, one window per panel,
    /// pooled in the epilogue. Grid-stride over panels.
    /// </summary>
    public static void ForwardPanel(ConvolutionForwardArguments a)
    {
        var s = a.Shape;
        var input = a.Input;
        int rows = ForwardRows(a), filters = s.Filters, k = s.KernelSize, channels = s.Channels;
        int panels = DivUp(filters, Cols);
        int items = DivUp(rows, Rows) * panels;
        GatherLabels(a);
        for (int item = GridStride.First, step = GridStride.Step; item < items; item += step)
        {
            int row0 = item / panels * Rows, col0 = item % panels * Cols;
            var origin0 = PatchOrigin.Of(input, s, OutputPosition(a, Math.Min(row0, rows - 1)));
            var origin1 = PatchOrigin.Of(input, s, OutputPosition(a, Math.Min(row0 + 1, rows - 1)));
            var origin2 = PatchOrigin.Of(input, s, OutputPosition(a, Math.Min(row0 + 2, rows - 1)));
            var origin3 = PatchOrigin.Of(input, s, OutputPosition(a, Math.Min(row0 + 3, rows - 1)));
            var sums = default(Panel);
            var columns = new PanelColumns(col0, filters, 1);
            for (int i = 0; i < k; i++)
            {
                for (int j = 0; j < k; j++)
                {
                    int o0 = origin0.Offset(s, i, j), o1 = origin1.Offset(s, i, j), o2 = origin2.Offset(s, i, j), o3 = origin3.Offset(s, i, j);
                    int weightRow = (i * k + j) * channels;
                    for (int c = 0; c < channels; c++)
                    {
                        float a0 = o0 != Outside ? input.Value(o0 + c) : 0f;
                        float a1 = o1 != Outside ? input.Value(o1 + c) : 0f;
                        float a2 = o2 != Outside ? input.Value(o2 + c) : 0f;
                        float a3 = o3 != Outside ? input.Value(o3 + c) : 0f;
                        if (a0 == 0f && a1 == 0f && a2 == 0f && a3 == 0f)
                            continue;
                        sums.Add(a0, a1, a2, a3, a.Parameters, (weightRow + c) * filters, columns);
                    }
                }
            }

            if (a.PoolHeight > 0)
            {
                // The panel's four rows are one pooling window.
                for (int t = 0; t < Cols && col0 + t < filters; t++)
                    StorePooled(a, row0 / 4, col0 + t, WithBias(a, sums.Get(0, t), col0 + t), WithBias(a, sums.Get(1, t), col0 + t), WithBias(a, sums.Get(2, t), col0 + t), WithBias(a, sums.Get(3, t), col0 + t));
                continue;
            }

            for (int r = 0; r < Rows; r++)
            {
                int row = row0 + r;
                if (row >= rows)
                    break;
                for (int t = 0; t < Cols && col0 + t < filters; t++)
                    a.Output[row * filters + col0 + t] = WithBias(a, sums.Get(r, t), col0 + t);
            }
        }
    }

    /// <summary>
    /// dy (B,OH,OW,F), kernels (k,k,C,F) → dx (B,H,W,C) = Σ_{i,j} (Σ_f dy[b, h−i+pad, w−j+pad, f]·kernels[i,j,c,f]),
    /// ⊙ [activation &gt; 0] when relu. Each work item computes 4 positions × 16 channels; each
    /// (i, j)'s inner sum is finished before it is added, as the product-then-fold composition
    /// adds them. Steps where all four dy are 0 (pooling's and ReLU's zeros) are skipped. Through a
    /// pooling, each value goes on to its window's maximum in the maps below.
    /// </summary>
    public static void BackwardInputPanel(ConvolutionBackwardInputArguments a)
    {
        var s = a.Shape;
        int rows = a.Batch * s.Height * s.Width, filters = s.Filters, k = s.KernelSize, channels = s.Channels;
        int panels = DivUp(channels, Cols);
        int items = DivUp(rows, Rows) * panels;
        for (int item = GridStride.First, step = GridStride.Step; item < items; item += step)
        {
            int row0 = item / panels * Rows, col0 = item % panels * Cols;
            var target0 = GradientTarget.Of(s, Math.Min(row0, rows - 1));
            var target1 = GradientTarget.Of(s, Math.Min(row0 + 1, rows - 1));
            var target2 = GradientTarget.Of(s, Math.Min(row0 + 2, rows - 1));
            var target3 = GradientTarget.Of(s, Math.Min(row0 + 3, rows - 1));
            var sums = default(Panel);
            var columns = new PanelColumns(col0, channels, filters);
            for (int i = 0; i < k; i++)
            {
                for (int j = 0; j < k; j++)
                {
                    int o0 = target0.Offset(s, i, j), o1 = target1.Offset(s, i, j), o2 = target2.Offset(s, i, j), o3 = target3.Offset(s, i, j);
                    if (o0 == Outside && o1 == Outside && o2 == Outside && o3 == Outside)
                        continue;
                    int weightRow = (i * k + j) * channels;
                    var inner = default(Panel);
                    for (int f = 0; f < filters; f++)
                    {
                        float a0 = o0 != Outside ? a.OutputGradients[o0 + f] : 0f;
                        float a1 = o1 != Outside ? a.OutputGradients[o1 + f] : 0f;
                        float a2 = o2 != Outside ? a.OutputGradients[o2 + f] : 0f;
                        float a3 = o3 != Outside ? a.OutputGradients[o3 + f] : 0f;
                        if (a0 == 0f && a1 == 0f && a2 == 0f && a3 == 0f)
                            continue;
                        inner.Add(a0, a1, a2, a3, a.Parameters, weightRow * filters + f, columns);
                    }

                    sums.AddPanel(inner);
                }
            }

            for (int r = 0; r < Rows; r++)
            {
                int row = row0 + r;
                if (row >= rows)
                    break;
                for (int t = 0; t < Cols && col0 + t < channels; t++)
                    StoreInputGradient(a, rows, row, col0 + t, sums.Get(r, t));
            }
        }
    }

    /// <summary>
    /// x (B,H,W,C), dy (B,OH,OW,F) → per chunk of whole images, [dW; db] (k·k·C+1, F) = [patchesᵀ; 1ᵀ]·dy
    /// over the chunk's positions in order, and in one chunk the optimizer's update when asked
    /// (<see cref="ConvolutionBackwardParametersArguments.UpdateParameters"/>). Each work item computes 4 rows (a
    /// kernel element (i, j, c) each, or the bias's row of ones) × 16 filters; steps where all
    /// four patch values are 0 are skipped. Grid-stride over (chunk, panel).
    /// </summary>
    public static void BackwardParametersPanel(ConvolutionBackwardParametersArguments a)
    {
        var s = a.Shape;
        var input = a.Input;
        int filters = s.Filters, parameterRows = s.PatchSize + 1;
        int chunks = DivUp(a.Batch, a.ImagesPerChunk);
        int panels = DivUp(filters, Cols);
        int perChunk = DivUp(parameterRows, Rows) * panels;
        for (int item = GridStride.First, step = GridStride.Step; item < chunks * perChunk; item += step)
        {
            int chunk = item / perChunk, within = item - chunk * perChunk;
            int row0 = within / panels * Rows, col0 = within % panels * Cols;
            var e0 = KernelElement.Of(s, row0);
            var e1 = KernelElement.Of(s, row0 + 1);
            var e2 = KernelElement.Of(s, row0 + 2);
            var e3 = KernelElement.Of(s, row0 + 3);
            int firstImage = chunk * a.ImagesPerChunk, lastImage = Math.Min(a.Batch, firstImage + a.ImagesPerChunk);
            var sums = default(Panel);
            var columns = new PanelColumns(col0, filters, 1);
            if (e0.FirstOfFour(s, row0))
            {
                // Four channels of one (i, j), next to each other in x: one bounds check and one offset per position.
                for (int image = firstImage; image < lastImage; image++)
                {
                    for (int oh = 0; oh < s.OutputHeight; oh++)
                    {
                        int h = oh + e0.RowOffset;
                        if (h < 0 || h >= s.Height)
                            continue;
                        int mapRow = (input.StoredImage(image) * s.Height + h) * s.Width, dyRow = (image * s.OutputHeight + oh) * s.OutputWidth;
                        for (int ow = 0; ow < s.OutputWidth; ow++)
                        {
                            int w = ow + e0.ColumnOffset;
                            if (w < 0 || w >= s.Width)
                                continue;
                            int o = (mapRow + w) * s.Channels + e0.Channel;
                            float a0 = input.Value(o), a1 = input.Value(o + 1), a2 = input.Value(o + 2), a3 = input.Value(o + 3);
                            if (a0 == 0f && a1 == 0f && a2 == 0f && a3 == 0f)
                                continue;
                            sums.Add(a0, a1, a2, a3, a.OutputGradients, (dyRow + ow) * filters, columns);
                        }
                    }
                }
            }
            else
            {
                for (int image = firstImage; image < lastImage; image++)
                {
                    for (int oh = 0; oh < s.OutputHeight; oh++)
                    {
                        for (int ow = 0; ow < s.OutputWidth; ow++)
                        {
                            int stored = input.StoredImage(image);
                            float a0 = e0.Value(input, s, stored, oh, ow), a1 = e1.Value(input, s, stored, oh, ow);
                            float a2 = e2.Value(input, s, stored, oh, ow), a3 = e3.Value(input, s, stored, oh, ow);
                            if (a0 == 0f && a1 == 0f && a2 == 0f && a3 == 0f)
                                continue;
                            int position = (image * s.OutputHeight + oh) * s.OutputWidth + ow;
                            sums.Add(a0, a1, a2, a3, a.OutputGradients, position * filters, columns);
                        }
                    }
                }
            }

            int chunkStart = chunk * parameterRows * filters;
            for (int r = 0; r < Rows; r++)
            {
                int row = row0 + r;
                if (row >= parameterRows)
                    break;
                for (int t = 0; t < Cols && col0 + t < filters; t++)
                    StoreParameterGradient(a, chunkStart, parameterRows, filters, row, col0 + t, sums.Get(r, t));
            }
        }
    }
}
