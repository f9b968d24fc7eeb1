using System.Globalization;
using MnistGpu.Engine.Backends;
using MnistGpu.Engine.Model;
using MnistGpu.Engine.Model.Layers;
using MnistGpu.Engine.Operations.Gather;
using MnistGpu.Engine.Operations.Softmax;
using MnistGpu.Kernels;

namespace MnistGpu.Engine.Steps;

/// <summary>
/// A network with convolutions on an ILGPU accelerator, each convolution with ReLU that a 2×2
/// max pooling follows run with that pooling in one launch, and each pooling's backward sent
/// through by the input gradient of the convolution above it
/// (<see cref="IlgpuBackend.ConvolutionPoolForward"/>,
/// <see cref="IlgpuBackend.ConvolutionBackwardInputThroughPool"/>): two launches fewer per pooling,
/// and neither the convolution's full output nor its gradient read back by a pooling kernel.
/// When the first layer is such a convolution, it reads the batch's images straight from the
/// split, bytes instead of floats, and gathers the labels in the same launch: no gather launch.
/// Every other layer runs as in the composition, the convolutions as implicit products, except
/// that the optimizer updates each layer in its kernel gradient's epilogue where one work item or
/// group sums a parameter's gradient whole (<see cref="FirstUpdatedInEpilogue"/>), after the
/// layer's input gradient has read the weights.
/// </summary>
internal sealed class IlgpuConvolutionSteps : FusedStepRunner
{
    private readonly IlgpuBackend device;
    private readonly IReadOnlyList<LayerOnDevice> layers;
    private readonly IReadOnlyList<Layer> shapes;

    /// <summary>Per layer: a convolution with ReLU whose next layer is a pooling, run together.</summary>
    private readonly bool[] pooledAbove;

    /// <summary>By the first layer updated in an epilogue: the span below it, updated after the gradients.</summary>
    private readonly Dictionary<int, UpdateSpan> separateSpans = [];
    private GatherOperation? gather;
    private SoftmaxCrossEntropyOperation? trainingLoss, evaluationLoss;

    public IlgpuConvolutionSteps(IlgpuBackend device, Network network)
        : base(network)
    {
        this.device = device;
        layers = Network.Layers;
        shapes = Network.Shape.Layers;
        pooledAbove = Enumerable.Range(0, shapes.Count).Select(i => PoolsAbove(shapes, i)).ToArray();
    }

    /// <summary>
    /// Where the optimizer's update runs, for <c>mnistgpu kernels</c>: in each layer's
    /// kernel-gradient epilogue where one work item or group sums a parameter's gradient whole,
    /// and in a launch of its own for the layers up to the highest one where none does
    /// (<see cref="FirstUpdatedInEpilogue"/>).
    /// </summary>
    public static string UpdateReason(NetworkShape shape, int batch)
    {
        var layers = shape.Layers;
        int first = FirstUpdatedInEpilogue(layers, batch);
        if (first == 0)
            return string.Create(CultureInfo.InvariantCulture, $"The optimizer runs in the kernel gradients' epilogues: at batch {batch} one work item or group sums each parameter's gradient whole, so the update needs no launch of its own.");
        long separate = first < layers.Count ? layers[first].Offset : shape.ParameterCount;
        var blocking = layers[first - 1];
        string why = blocking is Conv2DLayerShape convolution
            ? string.Create(CultureInfo.InvariantCulture, $"In conv{layers.Take(first).Count(l => l is Conv2DLayerShape)} the {convolution.Geometry.PatchSize * convolution.Filters:N0} weights each sum over {(long)batch * convolution.Geometry.Positions:N0} positions, in {ConvolutionKernels.Chunks(batch, convolution.Geometry.Positions)} chunks, so no group owns a whole sum")
            : $"Layer {first} ({blocking}) has no update in its gradient's epilogue";
        string addsChunks = layers[0] is Conv2DLayerShape conv1 && ConvolutionKernels.Chunks(batch, conv1.Geometry.Positions) > 1 ? ", which adds conv1's chunks first" : "";
        return string.Create(CultureInfo.InvariantCulture, $"The optimizer updates {shape.ParameterCount - separate:N0} parameters in their kernel gradients' epilogues, where one work item or group sums each gradient whole. {why}: the {separate:N0} parameters up to it update in a launch of their own after the gradients{addsChunks}.");
    }

    /// <summary>
    /// The first layer whose parameters the optimizer updates in its kernel gradient's epilogue at
    /// <paramref name="batch"/> rows. A layer can where one work item or group sums each of its
    /// parameters' gradients whole: a dense layer, a convolution whose gradient is one chunk
    /// (<see cref="ConvolutionKernels.Chunks"/>: a longer sum would fault rusticl). The layers
    /// below the highest one that cannot update in one launch after the gradients: one span of
    /// the flat arrays from their start.
    /// </summary>
    internal static int FirstUpdatedInEpilogue(IReadOnlyList<Layer> shapes, int batch)
    {
        for (int i = shapes.Count - 1; i >= 0; i--)
        {
            bool inEpilogue = shapes[i] switch
            {
                DenseLayerShape => true,
                Conv2DLayerShape convolution => ConvolutionKernels.Chunks(batch, convolution.Geometry.Positions) == 1,
                var other => other.ParameterCount == 0,
            };
            if (!inEpilogue)
                return i + 1;
        }

        return 0;
    }

    /// <summary>A network in which some convolution with ReLU is followed by a max pooling.</summary>
    public static bool Covers(NetworkShape shape) => Enumerable.Range(0, shape.Layers.Count).Any(i => PoolsAbove(shape.Layers, i));

    protected override void TrainFused(TrainingStep work, int start, int batch)
    {
        var images = Gather(work.Source, start, batch);
        Forward(batch, images, work.Context);
        device.Run(SoftmaxCrossEntropyOperation.Reuse(ref trainingLoss, backward: true, Network.Logits, Network.Labels, Network.LogitGradients, Network.Shape.Classes, new SampleOutputs(work.Losses, work.Predictions, start), batch));
        int firstInEpilogue = FirstUpdatedInEpilogue(shapes, batch), chunks = 0;
        for (int i = layers.Count - 1; i >= 0; i--)
        {
            // The input gradient first: it reads the weights the kernel gradient's epilogue updates.
            BackwardInput(i, batch, work.Context);
            ParameterUpdate? update = i >= firstInEpilogue && shapes[i].ParameterCount > 0
                ? IlgpuBackend.EpilogueUpdate(Network.Parameters, Network.OptimizerState, work.Update, shapes[i].Offset, (int)shapes[i].ParameterCount)
                : null;
            switch (layers[i])
            {
                // The first layer's kernel gradient is the step's last: its chunks can wait in
                // the scratch for the update to add them.
                case Conv2DOnDevice first when i == 0:
                    chunks = device.ConvolutionGradientChunks(first.Gradients, Network.Input, first.OutputGradient, Network.Scratch, batch, images, update);
                    break;
                case Conv2DOnDevice convolution when update is { } epilogue:
                    device.ConvolutionGradientChunks(convolution.Gradients, Input(i), convolution.OutputGradient, Network.Scratch, batch, update: epilogue);
                    break;
                case DenseOnDevice dense when update is { } epilogue:
                    device.DenseBackwardParametersUpdating(dense.Gradients, Input(i), dense.OutputGradient, batch, epilogue);
                    break;
                default:
                    layers[i].BackwardParameters(device, Input(i), batch, work.Context);
                    break;
            }
        }

        if (firstInEpilogue == 0)
            return;
        var below = SeparatelyUpdated(firstInEpilogue);
        if (chunks > 1)
            device.OptimizerUpdateSummingChunks(below.Parameters, below.Gradients, below.State, work.Update, Network.Scratch, shapes[0].Offset, (int)shapes[0].ParameterCount, chunks);
        else
            device.OptimizerUpdate(below.Parameters, below.Gradients, below.State, work.Update);
    }

    protected override void EvaluateFused(EvaluationPass work, int start, int batch)
    {
        int classes = Network.Shape.Classes;
        Forward(batch, Gather(work.Source, start, batch), StepContext.Inference);
        using var probabilities = device.Slice(work.Probabilities, start * classes, batch * classes);
        device.Run(SoftmaxCrossEntropyOperation.Reuse(ref evaluationLoss, backward: false, Network.Logits, Network.Labels, probabilities, classes, new SampleOutputs(work.Losses, work.Predictions, start), batch));
    }

    /// <summary>
    /// The batch's rows for the first convolution to read where they lie, or, when the first
    /// layer is not a pooled convolution, the gather into the network's input (null).
    /// </summary>
    private BatchImages? Gather(BatchSource source, int start, int batch)
    {
        if (pooledAbove[0])
            return new BatchImages(source, start, Network.Labels);
        device.Run(GatherOperation.Reuse(ref gather, source, start, batch, Network.Input, Network.Labels));
        return null;
    }

    private void Forward(int batch, BatchImages? images, StepContext context)
    {
        for (int i = 0; i < layers.Count; i++)
        {
            if (pooledAbove[i])
            {
                device.ConvolutionPoolForward(((Conv2DOnDevice)layers[i]).Parameters, Input(i), layers[i].Output, layers[i + 1].Output, batch, i == 0 ? images : null);
                i++;
                continue;
            }

            layers[i].Forward(device, Input(i), batch, shapes[i].Relu, context);
        }
    }

    /// <summary>Layer <paramref name="i"/>'s input gradient, unless it is the first layer's or a pooling's that the convolution above sends through.</summary>
    private void BackwardInput(int i, int batch, StepContext context)
    {
        if (i == 0 || SentThrough(i))
            return;
        if (SentThrough(i - 1) && layers[i] is Conv2DOnDevice convolution)
        {
            var pooling = (MaxPool2DLayerShape)shapes[i - 1];
            device.ConvolutionBackwardInputThroughPool(convolution.Parameters, convolution.OutputGradient, layers[i - 1].Output, pooling.Maps, layers[i - 2].Output, layers[i - 2].OutputGradient, batch, shapes[i - 1].Relu);
            return;
        }

        layers[i].BackwardInput(device, layers[i - 1].Output, layers[i - 1].OutputGradient, batch, shapes[i - 1].Relu, context);
    }

    /// <summary>The parameters of layers [0, <paramref name="layerCount"/>), their gradients and optimizer state: views made once per span.</summary>
    private UpdateSpan SeparatelyUpdated(int layerCount)
    {
        if (separateSpans.TryGetValue(layerCount, out var span))
            return span;
        int length = layerCount < shapes.Count ? shapes[layerCount].Offset : (int)Network.Shape.ParameterCount;
        span = new UpdateSpan(
            device.Slice(Network.Parameters, 0, length),
            device.Slice(Network.Gradients, 0, length),
            new OptimizerState(Network.OptimizerState.Arrays.Select(state => device.Slice(state, 0, length)).ToList()));
        separateSpans.Add(layerCount, span);
        return span;
    }

    /// <summary>Whether layer <paramref name="i"/> is a pooling run with the convolution below it whose backward the convolution above it runs.</summary>
    private bool SentThrough(int i) => i >= 1 && pooledAbove[i - 1] && i + 1 < layers.Count && layers[i + 1] is Conv2DOnDevice;

    private DeviceArray<float> Input(int layer) => layer == 0 ? Network.Input : layers[layer - 1].Output;

    private static bool PoolsAbove(IReadOnlyList<Layer> shapes, int i) =>
        shapes[i] is Conv2DLayerShape { Relu: true } && i + 1 < shapes.Count && shapes[i + 1] is MaxPool2DLayerShape;

    /// <summary>The first parameters of the flat arrays, updated in a launch of their own.</summary>
    private sealed record UpdateSpan(DeviceArray<float> Parameters, DeviceArray<float> Gradients, OptimizerState State);
}
