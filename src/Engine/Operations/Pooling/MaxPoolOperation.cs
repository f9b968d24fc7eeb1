using MnistGpu.Engine.Backends;
using MnistGpu.Kernels;

namespace MnistGpu.Engine.Operations.Pooling;

/// <summary>
/// 2×2 max pooling, stride 2, Keras' MaxPooling2D: forward x (B,H,W,C) → y (B,⌊H/2⌋,⌊W/2⌋,C),
/// each window's maximum; backward dy (B,H/2,W/2,C), x → dx (B,H,W,C), each window's gradient to
/// its first maximum in row-major order (0 elsewhere and in a dropped last row or column),
/// ⊙ [x &gt; 0] through the ReLU below when <see cref="Relu"/>.
/// </summary>
public sealed partial class MaxPoolOperation : Operation
{
    internal static KernelEntry ForwardKernel { get; } = KernelInventory.OperationKernel(typeof(MaxPoolKernels), nameof(MaxPoolKernels.Forward));

    internal static KernelEntry BackwardKernel { get; } = KernelInventory.OperationKernel(typeof(MaxPoolKernels), nameof(MaxPoolKernels.Backward));

    public required bool Backward { get; init; }

    /// <summary>The pooling's input maps, (H,W,C) per image.</summary>
    public required MapShape Input { get; init; }

    /// <summary>x (B,H,W,C): read both ways.</summary>
    public required DeviceArray<float> Maps { get; init; }

    /// <summary>y forward (written), dy backward (read): (B,H/2,W/2,C).</summary>
    public required DeviceArray<float> Output { get; init; }

    /// <summary>dx (B,H,W,C), written backward; forward unread (the maps).</summary>
    public required DeviceArray<float> InputGradients { get; init; }

    public required int Batch { get; init; }

    public bool Relu { get; init; }

    public override string Label => label ??= $"maxpool {(Backward ? "backward" : "forward")} {Input.Height}x{Input.Width}x{Input.Channels}{(Relu ? " +ReLU mask" : "")}";

    private string? label;

    private int OutputHeight => Input.Height / 2;

    private int OutputWidth => Input.Width / 2;

    /// <summary>The pass described: <paramref name="last"/> again when it ran the same arrays and batch (a layer runs the same pass every step, so a step allocates none), else a new one, kept in <paramref name="last"/>.</summary>
    internal static MaxPoolOperation Reuse(ref MaxPoolOperation? last, bool backward, MapShape input, DeviceArray<float> maps, DeviceArray<float> output, DeviceArray<float> inputGradients, int batch, bool relu)
    {
        if (last is null || last.Backward != backward || last.Input != input || last.Batch != batch || last.Relu != relu
            || !ReferenceEquals(last.Maps, maps) || !ReferenceEquals(last.Output, output) || !ReferenceEquals(last.InputGradients, inputGradients))
        {
            last = new MaxPoolOperation { Backward = backward, Input = input, Maps = maps, Output = output, InputGradients = inputGradients, Batch = batch, Relu = relu };
        }

        return last;
    }

    internal override void RunReference()
    {
        Span<double> x = Precise(Maps), y = Precise(Output), dx = Precise(InputGradients);
        var s = Input;
        if (Backward)
            dx[..(Batch * s.Size)].Clear();
        for (int b = 0; b < Batch; b++)
        {
            for (int oh = 0; oh < OutputHeight; oh++)
            {
                for (int ow = 0; ow < OutputWidth; ow++)
                {
                    for (int c = 0; c < s.Channels; c++)
                    {
                        int pooled = ((b * OutputHeight + oh) * OutputWidth + ow) * s.Channels + c;
                        int at = WindowMaximum(x, b, oh, ow, c);
                        if (!Backward)
                            y[pooled] = x[at];
                        else if (!Relu || x[at] > 0)
                            dx[at] = y[pooled];
                    }
                }
            }
        }
    }

    internal override void RunIlgpu(IlgpuBackend device) => device.Launch(
        Backward ? BackwardKernel : ForwardKernel,
        Batch * (Backward ? Input.Size : OutputHeight * OutputWidth * Input.Channels),
        new MaxPoolArguments
        {
            Input = View(Maps).SubView(0, Batch * Input.Size),
            Output = View(Output).SubView(0, Batch * OutputHeight * OutputWidth * Input.Channels),
            InputGradient = View(InputGradients).SubView(0, Batch * Input.Size),
            Height = Input.Height,
            Width = Input.Width,
            Channels = Input.Channels,
            Relu = Relu ? 1 : 0,
        },
        Label);

    /// <summary>The first of window (oh, ow)'s maxima in row-major order, channel c of image b: the index in x.</summary>
    private int WindowMaximum(ReadOnlySpan<double> x, int b, int oh, int ow, int c)
    {
        var s = Input;
        int best = ((b * s.Height + 2 * oh) * s.Width + 2 * ow) * s.Channels + c;
        foreach (var (dh, dw) in (ReadOnlySpan<(int, int)>)[(0, 1), (1, 0), (1, 1)])
        {
            int at = ((b * s.Height + 2 * oh + dh) * s.Width + 2 * ow + dw) * s.Channels + c;
            if (x[at] > x[best])
                best = at;
        }

        return best;
    }
}
