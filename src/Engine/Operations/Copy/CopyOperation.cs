using MnistGpu.Engine.Backends;
using MnistGpu.Engine.Backends.Host;

namespace MnistGpu.Engine.Operations.Copy;

/// <summary>
/// target (n) = source (n), ⊙ [activation (n) &gt; 0] when <see cref="Relu"/>: Flatten's forward
/// and backward (its values do not move), and a dropout's outside training or at rate 0.
/// </summary>
public sealed partial class CopyOperation : Operation
{
    /// <summary>The one kernel every ILGPU device launches.</summary>
    internal static KernelEntry Kernel { get; } = KernelInventory.OperationKernel(typeof(CopyKernels), nameof(CopyKernels.Apply));

    /// <summary>Whose copy it is, for profiles: "flatten", "dropout".</summary>
    public required string Layer { get; init; }

    public required bool Backward { get; init; }

    public required DeviceArray<float> Source { get; init; }

    /// <summary>The values whose sign masks the copy when <see cref="Relu"/>; the source when unused.</summary>
    public required DeviceArray<float> Activation { get; init; }

    public required DeviceArray<float> Target { get; init; }

    public required int Length { get; init; }

    public bool Relu { get; init; }

    public override string Label => label ??= $"{Layer}{(Backward ? " backward" : "")}{(Relu ? " +ReLU mask" : "")}";

    private string? label;

    /// <summary>The copy described: <paramref name="last"/> again when it copied the same arrays and length (a layer copies the same every step, so a step allocates none), else a new one, kept in <paramref name="last"/>.</summary>
    internal static CopyOperation Reuse(ref CopyOperation? last, string layer, bool backward, DeviceArray<float> source, DeviceArray<float> activation, DeviceArray<float> target, int length, bool relu)
    {
        if (last is null || last.Layer != layer || last.Backward != backward || last.Length != length || last.Relu != relu
            || !ReferenceEquals(last.Source, source) || !ReferenceEquals(last.Activation, activation) || !ReferenceEquals(last.Target, target))
        {
            last = new CopyOperation { Layer = layer, Backward = backward, Source = source, Activation = activation, Target = target, Length = length, Relu = relu };
        }

        return last;
    }

    internal override void RunReference()
    {
        Span<double> source = Precise(Source), activation = Precise(Activation), target = Precise(Target);
        for (int i = 0; i < Length; i++)
            target[i] = !Relu || activation[i] > 0 ? source[i] : 0.0;
    }

    internal override void RunHost(ITrainingBackend host) => HostCopy.Masked(OnHost(Source), OnHost(Activation), OnHost(Target), Length, Relu);

    internal override void RunIlgpu(IlgpuBackend device) => device.Launch(
        Kernel,
        Length,
        new CopyArguments
        {
            Source = View(Source).SubView(0, Length),
            Activation = View(Activation).SubView(0, Length),
            Target = View(Target).SubView(0, Length),
            Relu = Relu ? 1 : 0,
        },
        Label);
}
