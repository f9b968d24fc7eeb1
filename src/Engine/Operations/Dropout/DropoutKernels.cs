using ILGPU;
using MnistGpu.Kernels;

namespace MnistGpu.Engine.Operations.Dropout;

/// <summary>A dropout's arguments: the same kernel applies the mask forward (x → y) and backward (dy → dx).</summary>
public readonly struct DropoutArguments
{
    /// <summary>x forward, dy backward.</summary>
    public ArrayView<float> Source { get; init; }

    /// <summary>The values whose sign masks the result when <see cref="Relu"/> is 1: the dropout's input, after the ReLU below it.</summary>
    public ArrayView<float> Activation { get; init; }

    /// <summary>Its length is the count written.</summary>
    public ArrayView<float> Target { get; init; }

    /// <summary>The step's key (<see cref="DropoutMask.Key"/>).</summary>
    public uint Key { get; init; }

    /// <summary>Draws below it are dropped (<see cref="DropoutMask.Threshold"/>).</summary>
    public uint Threshold { get; init; }

    /// <summary>What a kept element is multiplied by: 1 / (1 − rate).</summary>
    public float Scale { get; init; }

    public int Relu { get; init; }
}

/// <summary>Dropout's kernel: a grid-stride loop, as every element-wise kernel.</summary>
public static class DropoutKernels
{
    /// <summary>target (n) = source ⊙ mask · scale, ⊙ [activation &gt; 0] when relu.</summary>
    public static void Apply(DropoutArguments a)
    {
        int total = a.Target.IntLength;
        for (int index = Grid.GlobalIndex.X, step = Grid.DimX * Group.DimX; index < total; index += step)
        {
            bool kept = DropoutMask.Keeps(a.Key, index, a.Threshold) && (a.Relu == 0 || a.Activation[index] > 0f);
            a.Target[index] = kept ? a.Source[index] * a.Scale : 0f;
        }
    }
}
