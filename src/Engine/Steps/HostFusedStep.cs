using MnistGpu.Engine.Backends;
using MnistGpu.Engine.Backends.Host;
using MnistGpu.Engine.Model;
using MnistGpu.Engine.Model.Layers;
using MnistGpu.Engine.Operations.Softmax;

namespace MnistGpu.Engine.Steps;

/// <summary>
/// The host's training step (and evaluation batch), fused, using the zeros of the uint8 images.
/// For Dense(P→H, ReLU) → Dense(H→C, softmax), the seed network:
/// <list type="number">
/// <item>h (B,H) = ReLU(x·W1 + b1), four rows at a time over the pixels that are nonzero in any of
/// them (found from the bytes with vector compares), so each load of a W1 row feeds four rows;
/// columns split across threads, each keeping its block of W1 in its L2;</item>
/// <item>per row: z = h·W2 + b2, softmax-cross-entropy, dz, dh = dz·W2ᵀ ⊙ [h &gt; 0];</item>
/// <item>[hᵀ; 1ᵀ]·dz, then the optimizer on W2 and b2;</item>
/// <item>[xᵀ; 1ᵀ]·dh four pixels at a time over the batch rows where any of them is nonzero, each
/// gradient row whole in a per-thread buffer and applied by the optimizer while in cache; a pixel
/// that is zero across the batch still goes through the optimizer with g = 0 (RMSprop: v ← ρv,
/// w unchanged; Adam and momentum move w).</item>
/// </list>
/// A dropout between the two dense layers is applied to h as step 1 stores it (h is then its
/// output), and its scale to dh in step 2.
/// A deeper network keeps steps 0, 1 and 4 for its first layer and runs the layers above it as
/// the composition does (dense products, dropouts, softmax-cross-entropy, the optimizer over their
/// parameters), down to the first layer's dh.
/// Every sum runs in the order, and with the fused multiply-adds, of the separate host
/// operations — a zero pixel or activation either adds 0·w or is skipped, which is the same bits —
/// so the results are the composition's exactly. Nothing is allocated per step. Each phase is a
/// file of its own (<c>HostStep*.cs</c>), passed <see cref="HostStepState{TVec}"/> for its run.
/// </summary>
internal sealed class HostFusedStep<TVec> : IHostFusedStep
    where TVec : struct, ISimdFloat<TVec>
{
    private readonly HostStepState<TVec> state;
    private readonly HostStepGroupPixels<TVec> groupPixels = new();
    private readonly HostStepHiddenForward<TVec> forward = new();
    private readonly HostStepTail<TVec> tail = new();
    private readonly HostStepOutputGradients<TVec> outputGradients = new();
    private readonly HostStepHiddenGradients<TVec> hiddenGradients = new();

    // A deeper network's layers above the first, as views into its flat arrays (they own no
    // storage), made at its first step: a runner, and so this step, serves one network.
    private UpperViews? upper;
    private SoftmaxCrossEntropyOperation? evaluationLoss;

    public HostFusedStep(WorkerPool pool) => state = new HostStepState<TVec>(pool);

    /// <summary>Whether images of <paramref name="pixels"/> pixels fit the 16-bit pixel lists.</summary>
    public static bool Fits(int pixels) => pixels <= ushort.MaxValue + 1;

    public void Train(TrainingStep work, int start, int batch)
    {
        var network = work.Network;
        var s = state;
        s.Set(network, work.Source, start, batch);
        (s.losses, s.predictions, s.outputOffset) = (HostStep.Storage(work.Losses), HostStep.Storage(work.Predictions), start);
        (s.backward, s.optimizer) = (true, work.Update);
        bool twoLayers = network.Shape.DenseLayers.Count == 2;
        s.dropout = twoLayers ? FoldedDropout.For(network.Shape.DropoutsAfter[0], work.Context) : FoldedDropout.None;
        var arrays = network.OptimizerState.Arrays;
        s.first = arrays.Count > 0 ? HostStep.Storage(arrays[0]) : [];
        s.second = arrays.Count > 1 ? HostStep.Storage(arrays[1]) : [];
        groupPixels.Run(s, s.Parts(s.RowGroups));
        forward.Run(s, s.Parts(s.hidden));
        if (twoLayers)
        {
            s.PrepareOutputLayer();
            tail.Run(s, s.Parts(batch));
            outputGradients.Run(s, s.Parts(s.hidden + 1));
        }
        else
        {
            // Above the first layer the step is the composition, down to the first layer's dh.
            GatherLabels(network);
            network.ComputeGradients(batch, new SampleOutputs(work.Losses, work.Predictions, start), work.Context, lowestLayer: 1);
            var upper = UpperLayers(network);
            network.Backend.OptimizerUpdate(upper.Parameters, upper.Gradients, upper.State, s.optimizer);
        }

        hiddenGradients.Run(s, s.Parts(s.PixelGroups + 1));
        s.Release();
    }

    public void Evaluate(EvaluationPass work, int start, int batch)
    {
        var network = work.Network;
        var s = state;
        s.Set(network, work.Source, start, batch);
        (s.losses, s.predictions, s.outputOffset) = (HostStep.Storage(work.Losses), HostStep.Storage(work.Predictions), start);
        (s.backward, s.dropout) = (false, FoldedDropout.None);
        s.output = HostStep.Storage(work.Probabilities);
        groupPixels.Run(s, s.Parts(s.RowGroups));
        forward.Run(s, s.Parts(s.hidden));
        if (network.Shape.DenseLayers.Count == 2)
        {
            s.PrepareOutputLayer();
            tail.Run(s, s.Parts(batch));
            s.Release();
            return;
        }

        GatherLabels(network);
        network.Forward(batch, StepContext.Inference, fromLayer: 1);
        int classes = network.Shape.Classes;
        using var probabilities = network.Backend.Slice(work.Probabilities, start * classes, batch * classes);
        network.Backend.Run(SoftmaxCrossEntropyOperation.Reuse(ref evaluationLoss, backward: false, network.Logits, network.Labels, probabilities, classes, new SampleOutputs(work.Losses, work.Predictions, start), batch));
        s.Release();
    }

    /// <summary>The batch's labels into the network's, for the composed loss above the first layer.</summary>
    private void GatherLabels(Network network)
    {
        var s = state;
        var target = HostStep.Storage(network.Labels);
        for (int b = 0; b < s.batch; b++)
            target[b] = s.labels[s.order[s.start + b]];
    }

    /// <summary>Views of every layer's parameters, gradients and optimizer state above the first, made once.</summary>
    private UpperViews UpperLayers(Network network)
    {
        if (upper is null)
        {
            var backend = network.Backend;
            int offset = network.Shape.Layers[1].Offset, length = network.Shape.ParameterCount - offset;
            upper = new UpperViews(
                backend.Slice(network.Parameters, offset, length),
                backend.Slice(network.Gradients, offset, length),
                new OptimizerState(network.OptimizerState.Arrays.Select(array => backend.Slice(array, offset, length)).ToList()));
        }

        return upper;
    }

    private sealed record UpperViews(DeviceArray<float> Parameters, DeviceArray<float> Gradients, OptimizerState State);
}

/// <summary>The fused host step, whatever its vector width.</summary>
internal interface IHostFusedStep
{
    void Train(TrainingStep work, int start, int batch);

    void Evaluate(EvaluationPass work, int start, int batch);
}
