using ILGPU;

namespace MnistGpu.Engine.Operations.Copy;

/// <summary>A copy that may mask by a ReLU: Flatten's forward (a plain copy) and backward, and an idle dropout's.</summary>
public readonly struct CopyArguments
{
    public ArrayView<float> Source { get; init; }

    /// <summary>The values whose sign masks the copy when <see cref="Relu"/> is 1.</summary>
    public ArrayView<float> Activation { get; init; }

    /// <summary>Its length is the count copied.</summary>
    public ArrayView<float> Target { get; init; }

    public int Relu { get; init; }

    /// <summary>
    /// Unread: it makes the 4-byte fields an even number, so the struct has no trailing padding,
    /// which strict OpenCL drivers (Mesa's) refuse in an argument (KernelArgumentLayoutTests).
    /// </summary>
    public int Reserved { get; init; }
}

/// <summary>The copy's kernel: a grid-stride loop, as every element-wise kernel.</summary>
public static class CopyKernels
{
    /// <summary>target = source, or source ⊙ [activation &gt; 0] when relu, over the target's length.</summary>
    public static void Apply(CopyArguments a)
    {
        int total = a.Target.IntLength;
        for (int index = Grid.GlobalIndex.X, step = Grid.DimX * Group.DimX; index < total; index += step)
            a.Target[index] = a.Relu == 0 || a.Activation[index] > 0f ? a.Source[index] : 0f;
    }
}
