using MnistGpu.Engine.Backends;
using MnistGpu.Kernels;

namespace MnistGpu.Engine.Operations.Dropout;

/// <summary>
/// One training pass of a dropout over (n) values: forward x → y = x ⊙ mask / (1 − rate), or
/// backward dy → dx = dy ⊙ mask / (1 − rate), ⊙ [activation &gt; 0] through the ReLU below when
/// <see cref="Relu"/>. The mask is <see cref="DropoutMask"/>'s for <see cref="Key"/>; outside
/// training a dropout is the identity and runs no operation of its own.
/// </summary>
public sealed partial class DropoutOperation : Operation
{
    /// <summary>The one kernel every device launches.</summary>
    internal static KernelEntry Kernel { get; } = KernelInventory.OperationKernel(typeof(DropoutKernels), nameof(DropoutKernels.Apply));

    public required double Rate { get; init; }

    public required bool Backward { get; init; }

    public required DeviceArray<float> Source { get; init; }

    /// <summary>The dropout's input, whose sign masks a backward's result when <see cref="Relu"/>; the source when unused.</summary>
    public required DeviceArray<float> Activation { get; init; }

    public required DeviceArray<float> Target { get; init; }

    public required int Length { get; init; }

    /// <summary>The step's key (<see cref="DropoutMask.Key"/>): the one thing that changes when a layer runs its pass again the next step.</summary>
    public required uint Key { get; set; }

    public bool Relu { get; init; }

    public override string Label => label ??= $"dropout {(Backward ? "backward" : "forward")} {Rate:0.###}{(Relu ? " +ReLU mask" : "")}";

    private string? label;

    /// <summary>
    /// The pass described, with this step's <paramref name="key"/>: <paramref name="last"/> again
    /// when it ran the same arrays (a layer runs the same pass every step, so a step allocates
    /// none), else a new one, kept in <paramref name="last"/>.
    /// </summary>
    internal static DropoutOperation Reuse(ref DropoutOperation? last, double rate, bool backward, DeviceArray<float> source, DeviceArray<float> activation, DeviceArray<float> target, int length, bool relu, uint key)
    {
        if (last is null || last.Rate != rate || last.Backward != backward || last.Length != length || last.Relu != relu
            || !ReferenceEquals(last.Source, source) || !ReferenceEquals(last.Activation, activation) || !ReferenceEquals(last.Target, target))
        {
            last = new DropoutOperation { Rate = rate, Backward = backward, Source = source, Activation = activation, Target = target, Length = length, Key = key, Relu = relu };
        }

        last.Key = key;
        return last;
    }

    internal override void RunReference()
    {
        Span<double> source = Precise(Source), activation = Precise(Activation), target = Precise(Target);
        uint threshold = DropoutMask.Threshold(Rate);
        double scale = 1.0 / (1.0 - Rate);
        for (int i = 0; i < Length; i++)
            target[i] = DropoutMask.Keeps(Key, i, threshold) && (!Relu || activation[i] > 0) ? source[i] * scale : 0;
    }

    internal override void RunHost(ITrainingBackend host)
    {
        Span<float> source = OnHost(Source), activation = OnHost(Activation), target = OnHost(Target);
        HostDropout.Apply(source[..Length], activation[..Length], target[..Length], 0, Key, DropoutMask.Threshold(Rate), DropoutMask.Scale(Rate), Relu);
    }

    internal override void RunIlgpu(IlgpuBackend device) => device.Launch(
        Kernel,
        Length,
        new DropoutArguments
        {
            Source = View(Source).SubView(0, Length),
            Activation = View(Activation).SubView(0, Length),
            Target = View(Target).SubView(0, Length),
            Key = Key,
            Threshold = DropoutMask.Threshold(Rate),
            Scale = DropoutMask.Scale(Rate),
            Relu = Relu ? 1 : 0,
        },
        Label);
}
