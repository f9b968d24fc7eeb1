using MnistGpu.Engine.Model.Layers;
using MnistGpu.Kernels;

namespace MnistGpu.Engine.Steps;

/// <summary>
/// A dropout as a fused step applies it where it stores the dense output below it: this pass's key,
/// threshold and scale (<see cref="DropoutMask"/>). <see cref="None"/> keeps every value as it is
/// (threshold 0, scale 1): no dropout there, a rate of 0, or a pass that does not train.
/// </summary>
internal readonly record struct FoldedDropout(uint Key, uint Threshold, float Scale)
{
    public static FoldedDropout None { get; } = new(0, 0, 1f);

    /// <summary>Whether any value is dropped and the kept ones scaled.</summary>
    public bool Drops => Threshold != 0;

    /// <summary>The dropout at <paramref name="dropout"/> (null: none) for a pass in <paramref name="context"/>.</summary>
    public static FoldedDropout For((DropoutLayerShape Layer, int Position)? dropout, StepContext context) =>
        dropout is var (layer, position) && context.Training && layer.Rate > 0
            ? new(DropoutMask.Key(context.Seed, context.Step, position), DropoutMask.Threshold(layer.Rate), DropoutMask.Scale(layer.Rate))
            : None;
}
