using System.Numerics.Tensors;
using MnistGpu.Engine.Backends;

namespace MnistGpu.Engine.Operations.Softmax;

/// <summary>
/// The output layer's loss: logits (B,C), labels (B) → softmax probabilities (B,C), each row's
/// cross-entropy and prediction (argmax, the first on ties) at <see cref="Offset"/> + row of
/// pass-long arrays; with <see cref="Backward"/>, the gradient of the batch-mean loss instead of
/// the probabilities, dlogits (B,C) = (softmax − onehot) / B. The maximum is subtracted before
/// exponentiating and the loss computed as log Σ exp(z − max) − (z[label] − max), so neither
/// overflows nor underflows to an infinite loss.
/// </summary>
public sealed partial class SoftmaxCrossEntropyOperation : Operation
{
    internal static KernelEntry ForwardKernel { get; } = KernelInventory.OperationKernel(typeof(SoftmaxCrossEntropyKernels), nameof(SoftmaxCrossEntropyKernels.Forward));

    internal static KernelEntry ForwardBackwardKernel { get; } = KernelInventory.OperationKernel(typeof(SoftmaxCrossEntropyKernels), nameof(SoftmaxCrossEntropyKernels.ForwardBackward));

    public required bool Backward { get; init; }

    public required DeviceArray<float> Logits { get; init; }

    public required DeviceArray<int> Labels { get; init; }

    /// <summary>The probabilities (B,C), or with <see cref="Backward"/> dlogits (B,C).</summary>
    public required DeviceArray<float> Output { get; init; }

    public required int Classes { get; init; }

    /// <summary>Each sample's loss, at <see cref="Offset"/> + row.</summary>
    public required DeviceArray<float> Losses { get; init; }

    /// <summary>Each sample's prediction, at <see cref="Offset"/> + row.</summary>
    public required DeviceArray<int> Predictions { get; init; }

    /// <summary>B: rows in this batch; with <see cref="Offset"/> what changes from step to step.</summary>
    public required int Batch { get; set; }

    /// <summary>Where row 0's loss and prediction go: the batch's first row in the pass.</summary>
    public required int Offset { get; set; }

    public override string Label => Backward ? "softmax-cross-entropy forward+backward" : "softmax-cross-entropy forward";

    /// <summary>
    /// The pass with this step's <paramref name="batch"/> and <paramref name="outputs"/>' offset:
    /// <paramref name="last"/> again when it ran the same arrays (a network runs its loss every
    /// step, so a step allocates none), else a new one, kept in <paramref name="last"/>.
    /// </summary>
    internal static SoftmaxCrossEntropyOperation Reuse(ref SoftmaxCrossEntropyOperation? last, bool backward, DeviceArray<float> logits, DeviceArray<int> labels, DeviceArray<float> output, int classes, SampleOutputs outputs, int batch)
    {
        if (last is null || last.Backward != backward || last.Classes != classes || !ReferenceEquals(last.Logits, logits) || !ReferenceEquals(last.Labels, labels)
            || !ReferenceEquals(last.Output, output) || !ReferenceEquals(last.Losses, outputs.Losses) || !ReferenceEquals(last.Predictions, outputs.Predictions))
        {
            last = new SoftmaxCrossEntropyOperation
            {
                Backward = backward,
                Logits = logits,
                Labels = labels,
                Output = output,
                Classes = classes,
                Losses = outputs.Losses,
                Predictions = outputs.Predictions,
                Batch = batch,
                Offset = outputs.Offset,
            };
        }

        (last.Batch, last.Offset) = (batch, outputs.Offset);
        return last;
    }

    internal override void RunReference()
    {
        Span<double> logits = Precise(Logits), labels = Precise(Labels), output = Precise(Output), losses = Precise(Losses), predictions = Precise(Predictions);
        for (int b = 0; b < Batch; b++)
        {
            var row = logits.Slice(b * Classes, Classes);
            int argmax = 0;
            for (int c = 1; c < Classes; c++)
            {
                if (row[c] > row[argmax])
                    argmax = c;
            }

            double max = row[argmax];
            double sum = 0;
            for (int c = 0; c < Classes; c++)
                sum += Math.Exp(row[c] - max);

            int label = (int)labels[b];
            losses[Offset + b] = Math.Log(sum) - (row[label] - max);
            predictions[Offset + b] = argmax;
            for (int c = 0; c < Classes; c++)
            {
                double p = Math.Exp(row[c] - max) / sum;
                output[b * Classes + c] = Backward ? (c == label ? p - 1 : p) / Batch : p;
            }
        }
    }

    /// <summary>The same arithmetic as <see cref="SoftmaxCrossEntropyKernels"/>, in the same order, so the two agree to rounding.</summary>
    internal override void RunHost(ITrainingBackend host)
    {
        Span<float> logits = OnHost(Logits), output = OnHost(Output), losses = OnHost(Losses);
        Span<int> labels = OnHost(Labels), predictions = OnHost(Predictions);
        float scale = Backward ? 1f / Batch : 0f;
        for (int row = 0; row < Batch; row++)
        {
            losses[Offset + row] = HostRow(logits.Slice(row * Classes, Classes), output.Slice(row * Classes, Classes), labels[row], scale, out int argmax);
            predictions[Offset + row] = argmax;
        }
    }

    /// <summary>
    /// One row on the host (also the host's fused step's): p = softmax(z), and with a nonzero
    /// <paramref name="gradientScale"/> p becomes (p − onehot) · scale. Returns the loss
    /// log Σ exp(z − max) − (z[label] − max).
    /// </summary>
    internal static float HostRow(ReadOnlySpan<float> z, Span<float> p, int label, float gradientScale, out int argmax)
    {
        argmax = TensorPrimitives.IndexOfMax(z);
        float max = z[argmax];
        float sum = 0f;
        for (int c = 0; c < z.Length; c++)
        {
            p[c] = MathF.Exp(z[c] - max);
            sum += p[c];
        }

        TensorPrimitives.Multiply(p, 1f / sum, p);
        if (gradientScale != 0f)
        {
            p[label] -= 1f;
            TensorPrimitives.Multiply(p, gradientScale, p);
        }

        return MathF.Log(sum) - (z[label] - max);
    }

    internal override void RunIlgpu(IlgpuBackend device) => device.Launch(
        Backward ? ForwardBackwardKernel : ForwardKernel,
        Batch,
        new SoftmaxArguments
        {
            Logits = View(Logits).SubView(0, Batch * Classes),
            Labels = View(Labels).SubView(0, Batch),
            Output = View(Output).SubView(0, Batch * Classes),
            Losses = View(Losses),
            Predictions = View(Predictions),
            OutputOffset = Offset,
            Classes = Classes,
        },
        Label);
}
