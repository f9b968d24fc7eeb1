using System.Globalization;
using MnistGpu.Engine.Backends;
using MnistGpu.Engine.Model;
using MnistGpu.Engine.Model.Layers;
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
/// Every other layer runs as in the composition, the convolutions as implicit products. While
/// the backend's <see cref="ITrainingBackend.FusedSteps"/> is off, the composition.
/// </summary>
internal sealed class IlgpuConvolutionSteps : FusedStepRunner
{
    private readonly IlgpuBackend device;
    private readonly IReadOnlyList<LayerOnDevice> layers;
    private readonly IReadOnlyList<Layer> shapes;

    /// <summary>Per layer: a convolution with ReLU whose next layer is a pooling, run together.</summary>
    private readonly bool[] pooledAbove;

    public IlgpuConvolutionSteps(IlgpuBackend device, Network network)
        : base(device, network)
    {
        this.device = device;
        layers = Network.Layers;
        shapes = Network.Shape.Layers;
        pooledAbove = Enumerable.Range(0, shapes.Count).Select(i => PoolsAbove(shapes, i)).ToArray();
    }

    /// <summary>
    /// Why the optimizer is a launch of its own after the gradients, for <c>mnistgpu kernels</c>:
    /// the update could run in a gradient launch's epilogue only where one group owns each
    /// parameter's whole sum, and the largest convolution's kernel gradient sums over too many
    /// positions for one work item (rusticl's long-sum fault, <see cref="ConvolutionKernels.ChunkRows"/>).
    /// </summary>
    public static string SeparateUpdateReason(NetworkShape shape, int batch)
    {
        var widest = shape.Layers.OfType<Conv2DLayerShape>().Select((layer, i) => (Layer: layer, Number: i + 1)).MaxBy(c => c.Layer.Geometry.Positions)!;
        var s = widest.Layer.Geometry;
        long positions = (long)batch * s.Positions;
        int chunks = ConvolutionKernels.Chunks(batch, s.Positions);
        // Every other layer's gradient has one owner per parameter, but updating it in that
        // launch's epilogue would remove no launch while this one remains: only the gradient's
        // write and read back (8 bytes a parameter).
        long others = shape.ParameterCount - (s.PatchSize + 1) * (long)s.Filters;
        return chunks > 1
            ? string.Create(CultureInfo.InvariantCulture, $"The optimizer is its own launch: conv{widest.Number}'s {s.PatchSize * s.Filters:N0} weights each sum over {positions:N0} positions, in {chunks} chunks, so no group owns a parameter's whole reduction to update it in its epilogue; {(ReferenceEquals(widest.Layer, shape.Layers[0]) ? "the update adds the chunks first" : "a launch adds the chunks")}. The other {others:N0} parameters update in the same launch: in their gradients' epilogues they would save no launch, only {others * 8 / 1024.0:N0} KiB of traffic a step.")
            : string.Create(CultureInfo.InvariantCulture, $"The optimizer is its own launch: conv{widest.Number}'s {s.PatchSize * s.Filters:N0} weights each sum over {positions:N0} positions, spread over groups of positions and filters; updating in a gradient launch's epilogue is not written for convolutions yet.");
    }

    /// <summary>A network in which some convolution with ReLU is followed by a max pooling.</summary>
    public static bool Covers(NetworkShape shape) => Enumerable.Range(0, shape.Layers.Count).Any(i => PoolsAbove(shape.Layers, i));

    protected override void TrainFused(TrainingStep work, int start, int batch)
    {
        var images = Gather(work.Source, start, batch);
        Forward(batch, images);
        device.SoftmaxCrossEntropyForwardBackward(Network.Logits, Network.Labels, batch, Network.Shape.Classes, Network.LogitGradients, new SampleOutputs(work.Losses, work.Predictions, start));
        int chunks = 0;
        for (int i = layers.Count - 1; i >= 0; i--)
        {
            // The first layer's kernel gradient is the step's last: its chunks can wait in the
            // scratch for the update to add them.
            if (i == 0 && layers[0] is Conv2DOnDevice first)
            {
                chunks = device.ConvolutionGradientChunks(first.Gradients, Network.Input, first.OutputGradient, Network.Scratch, batch, images);
                continue;
            }

            layers[i].BackwardParameters(device, Input(i), batch);
            if (i == 0 || SentThrough(i))
                continue;
            if (SentThrough(i - 1) && layers[i] is Conv2DOnDevice convolution)
            {
                var pooling = (MaxPool2DLayerShape)shapes[i - 1];
                device.ConvolutionBackwardInputThroughPool(convolution.Parameters, convolution.OutputGradient, layers[i - 1].Output, pooling.Maps, layers[i - 2].Output, layers[i - 2].OutputGradient, batch, shapes[i - 1].Relu);
                continue;
            }

            layers[i].BackwardInput(device, layers[i - 1].Output, layers[i - 1].OutputGradient, batch, shapes[i - 1].Relu);
        }

        if (chunks > 1)
            device.OptimizerUpdateSummingChunks(Network.Parameters, Network.Gradients, Network.OptimizerState, work.Update, Network.Scratch, shapes[0].Offset, (int)shapes[0].ParameterCount, chunks);
        else
            device.OptimizerUpdate(Network.Parameters, Network.Gradients, Network.OptimizerState, work.Update);
    }

    protected override void EvaluateFused(EvaluationPass work, int start, int batch)
    {
        int classes = Network.Shape.Classes;
        Forward(batch, Gather(work.Source, start, batch));
        using var probabilities = device.Slice(work.Probabilities, start * classes, batch * classes);
        device.SoftmaxCrossEntropyForward(Network.Logits, Network.Labels, batch, classes, probabilities, new SampleOutputs(work.Losses, work.Predictions, start));
    }

    /// <summary>
    /// The batch's rows for the first convolution to read where they lie, or, when the first
    /// layer is not a pooled convolution, the gather into the network's input (null).
    /// </summary>
    private BatchImages? Gather(BatchSource source, int start, int batch)
    {
        if (pooledAbove[0])
            return new BatchImages(source, start, Network.Labels);
        device.GatherBatch(source, start, batch, Network.Input, Network.Labels);
        return null;
    }

    private void Forward(int batch, BatchImages? images)
    {
        for (int i = 0; i < layers.Count; i++)
        {
            if (pooledAbove[i])
            {
                device.ConvolutionPoolForward(((Conv2DOnDevice)layers[i]).Parameters, Input(i), layers[i].Output, layers[i + 1].Output, batch, i == 0 ? images : null);
                i++;
                continue;
            }

            layers[i].Forward(device, Input(i), batch, shapes[i].Relu);
        }
    }

    /// <summary>Whether layer <paramref name="i"/> is a pooling run with the convolution below it whose backward the convolution above it runs.</summary>
    private bool SentThrough(int i) => i >= 1 && pooledAbove[i - 1] && i + 1 < layers.Count && layers[i + 1] is Conv2DOnDevice;

    private DeviceArray<float> Input(int layer) => layer == 0 ? Network.Input : layers[layer - 1].Output;

    private static bool PoolsAbove(IReadOnlyList<Layer> shapes, int i) =>
        shapes[i] is Conv2DLayerShape { Relu: true } && i + 1 < shapes.Count && shapes[i + 1] is MaxPool2DLayerShape;
}
