using ILGPU;

namespace MnistGpu.Engine.Operations.Softmax;

/// <summary>
/// The softmax-cross-entropy kernels' argument: logits (B,C) and labels (B), whose lengths give
/// B; output (B,C): probabilities, or the gradient; losses and predictions of the whole pass,
/// written at <see cref="OutputOffset"/> + row.
/// </summary>
public readonly struct SoftmaxArguments
{
    public ArrayView<float> Logits { get; init; }
    public ArrayView<int> Labels { get; init; }
    public ArrayView<float> Output { get; init; }
    public ArrayView<float> Losses { get; init; }
    public ArrayView<int> Predictions { get; init; }
    public int OutputOffset { get; init; }
    public int Classes { get; init; }
}

/// <summary>
/// Softmax over each row of logits with the cross-entropy against integer labels. The maximum
/// is subtracted before exponentiating so no logit can overflow, and the loss is computed as
/// log Σ exp(z − max) − (z[label] − max) instead of −log p, so it stays finite when p underflows.
/// Per-sample results land at <c>outputOffset + row</c> of epoch-long buffers, which the host
/// reads back once per epoch instead of once per step.
/// </summary>
public static class SoftmaxCrossEntropyKernels
{
    /// <summary>
    /// logits (B,C), labels (B) → probabilities (B,C), losses[offset + b], predictions[offset + b]
    /// </summary>
    public static void Forward(SoftmaxArguments a)
    {
        int classes = a.Classes, batch = a.Labels.IntLength;
        for (int row = Grid.GlobalIndex.X, step = Grid.DimX * Group.DimX; row < batch; row += step)
        {
            float sum = SoftmaxRow(a.Logits, a.Output, row, classes, out float max, out int argmax);
            int label = a.Labels[row];
            a.Losses[a.OutputOffset + row] = MathF.Log(sum) - (a.Logits[row * classes + label] - max);
            a.Predictions[a.OutputOffset + row] = argmax;
        }
    }

    /// <summary>
    /// Forward and backward in one pass over each row: the loss is the mean over the batch, so
    /// dz = (p − onehot(label)) / B.
    /// logits (B,C), labels (B) → gradient (B,C) in Output, losses[offset + b], predictions[offset + b]
    /// </summary>
    public static void ForwardBackward(SoftmaxArguments a)
    {
        int classes = a.Classes, batch = a.Labels.IntLength;
        float scale = 1f / batch;
        for (int row = Grid.GlobalIndex.X, step = Grid.DimX * Group.DimX; row < batch; row += step)
        {
            float sum = SoftmaxRow(a.Logits, a.Output, row, classes, out float max, out int argmax);
            int label = a.Labels[row];
            a.Losses[a.OutputOffset + row] = MathF.Log(sum) - (a.Logits[row * classes + label] - max);
            a.Predictions[a.OutputOffset + row] = argmax;
            for (int c = 0; c < classes; c++)
            {
                float p = a.Output[row * classes + c];
                a.Output[row * classes + c] = (c == label ? p - 1f : p) * scale;
            }
        }
    }

    /// <summary>Writes softmax(logits[row]) to probabilities[row]; returns Σ exp(z − max).</summary>
    private static float SoftmaxRow(
        ArrayView<float> logits, ArrayView<float> probabilities, int row, int classes,
        out float max, out int argmax)
    {
        int offset = row * classes;
        max = logits[offset];
        argmax = 0;
        for (int c = 1; c < classes; c++)
        {
            float z = logits[offset + c];
            if (z > max)
            {
                max = z;
                argmax = c;
            }
        }

        float sum = 0f;
        for (int c = 0; c < classes; c++)
        {
            float e = MathF.Exp(logits[offset + c] - max);
            probabilities[offset + c] = e;
            sum += e;
        }

        float inverse = 1f / sum;
        for (int c = 0; c < classes; c++)
            probabilities[offset + c] *= inverse;
        return sum;
    }
}
