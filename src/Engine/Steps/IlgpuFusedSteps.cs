using MnistGpu.Engine.Backends;
using MnistGpu.Engine.Model;
using MnistGpu.Engine.Model.Layers;
using MnistGpu.Engine.Operations.Dropout;
using MnistGpu.Kernels;

namespace MnistGpu.Engine.Steps;

/// <summary>
/// A dense stack's step on an ILGPU accelerator in three launches (<see cref="FusedStepKernels"/>),
/// and two more per hidden layer beyond the first (its forward product, and its input gradient);
/// an evaluation batch is the first two. A dropout after the first hidden layer is applied by
/// launch 1 as it stores h, and the scale of one after the last hidden layer by the tail; one
/// after any other hidden layer adds its own launch forward and backward, in place.
/// </summary>
internal sealed class IlgpuFusedSteps : FusedStepRunner
{
    private readonly IlgpuBackend device;
    private readonly IReadOnlyList<DenseOnDevice> layers;
    private readonly (int Inputs, int Outputs)[] sizes;
    private readonly DenseLayerShape outputLayer;
    private readonly IReadOnlyList<(DropoutLayerShape Layer, int Position)?> dropouts;

    // Each in-place dropout pass, per dense layer, run again every step.
    private readonly DropoutOperation?[] dropoutForward, dropoutBackward;
    private readonly DeviceArray<int> layerTable;

    public IlgpuFusedSteps(IlgpuBackend device, Network network)
        : base(network)
    {
        this.device = device;
        layers = Network.DenseLayers;
        sizes = Network.Shape.DenseLayers.Select(layer => (layer.Inputs, layer.Outputs)).ToArray();
        outputLayer = Network.Shape.DenseLayers[^1];
        dropouts = Network.Shape.DropoutsAfter;
        (dropoutForward, dropoutBackward) = (new DropoutOperation?[layers.Count], new DropoutOperation?[layers.Count]);
        layerTable = UploadLayerTable();
    }

    /// <summary>
    /// A dense stack (dropouts included) whose softmax has at most <see cref="FusedStepKernels.MaxClasses"/>
    /// classes: the kernels keep a row's logits in registers (or shared memory). Any depth and any optimizer fuse.
    /// Its first launch reads pixels as byte / 255: a standardised network runs composed.
    /// </summary>
    public static bool Covers(NetworkShape shape) => shape.IsDenseStack && shape.Classes <= FusedStepKernels.MaxClasses && shape.Scaling.IsUnit;

    protected override void TrainFused(TrainingStep work, int start, int batch)
    {
        var context = work.Context;
        var step = Arguments(work.Source, Network.Layers[^1].OutputGradient, work.Losses, work.Predictions, start, batch, work.Update, context);
        HiddenLayers(step, batch, context);
        device.FusedTail(step, backward: true);
        for (int i = layers.Count - 2; i >= 1; i--)
        {
            device.DenseBackwardInput(layers[i].Parameters, layers[i].OutputGradient, layers[i - 1].Output, layers[i - 1].OutputGradient, batch, relu: true);
            DropoutInPlace(i - 1, backward: true, batch, context);
        }

        device.FusedGradients(step, sizes);
    }

    protected override void EvaluateFused(EvaluationPass work, int start, int batch)
    {
        int classes = Network.Shape.Classes;
        var step = Arguments(work.Source, work.Probabilities, work.Losses, work.Predictions, start, batch, default, StepContext.Inference) with
        {
            Output = IlgpuBackend.View(work.Probabilities).SubView(start * classes, batch * classes),
        };
        HiddenLayers(step, batch, StepContext.Inference);
        device.FusedTail(step, backward: false);
    }

    public override void Dispose()
    {
        layerTable.Dispose();
        base.Dispose();
    }

    /// <summary>Launch 1, then each further hidden layer's forward product: every hidden layer's output, after its dropout.</summary>
    private void HiddenLayers(FusedStep step, int batch, StepContext context)
    {
        device.FusedHiddenForward(step);
        for (int i = 1; i < layers.Count - 1; i++)
        {
            device.DenseForward(layers[i].Parameters, layers[i - 1].Output, layers[i].Output, batch, relu: true);
            DropoutInPlace(i, backward: false, batch, context);
        }
    }

    /// <summary>
    /// The dropout after dense layer <paramref name="dense"/>, if any, over that layer's own output
    /// (forward) or output gradient (backward, through its ReLU), in place: the dense layer's output
    /// stands for the dropout's, as the fused kernels read it.
    /// </summary>
    private void DropoutInPlace(int dense, bool backward, int batch, StepContext context)
    {
        if (dropouts[dense] is not var (dropout, position) || !context.Training || dropout.Rate == 0)
            return;
        var layer = layers[dense];
        var values = backward ? layer.OutputGradient : layer.Output;
        ref var last = ref (backward ? ref dropoutBackward[dense] : ref dropoutForward[dense]);
        device.Run(DropoutOperation.Reuse(ref last, dropout.Rate, backward, values, layer.Output, values, batch * dropout.Inputs, relu: backward, DropoutMask.Key(context.Seed, context.Step, position)));
    }

    /// <summary><see cref="FusedStep.LayerTable"/> for the network, on the device, once.</summary>
    private DeviceArray<int> UploadLayerTable()
    {
        var table = new int[sizes.Length * FusedStep.LayerFields];
        var shapes = Network.Shape.DenseLayers;
        for (int i = 0; i < shapes.Count; i++)
        {
            var row = table.AsSpan(i * FusedStep.LayerFields, FusedStep.LayerFields);
            row[FusedStep.InputsField] = shapes[i].Inputs;
            row[FusedStep.OutputsField] = shapes[i].Outputs;
            row[FusedStep.ParametersField] = shapes[i].Offset;
            row[FusedStep.InputField] = i == 0 ? -1 : Network.ActivationOffset(Network.Shape.PositionOfDense(i - 1));
            row[FusedStep.GradientField] = Network.ActivationOffset(Network.Shape.PositionOfDense(i));
        }

        var array = device.Allocate<int>(table.Length);
        device.Upload<int>(table, array);
        return array;
    }

    private FusedStep Arguments(BatchSource source, DeviceArray<float> output, DeviceArray<float> losses, DeviceArray<int> predictions, int start, int batch, OptimizerStep optimizer, StepContext context)
    {
        var shape = Network.Shape;
        var state = Network.OptimizerState.Arrays;
        var hiddenDropout = FoldedDropout.For(dropouts[0], context);
        return new()
        {
            Images = IlgpuBackend.View(source.Images),
            Labels = IlgpuBackend.View(source.Labels),
            Order = IlgpuBackend.View(source.Order),
            Parameters = IlgpuBackend.View(Network.Parameters),
            // Arrays an optimizer does not keep (and a forward-only pass) are never read: any view will do.
            State1 = IlgpuBackend.View(state.Count > 0 ? state[0] : Network.Gradients),
            State2 = IlgpuBackend.View(state.Count > 1 ? state[1] : Network.Gradients),
            TailInput = IlgpuBackend.View(layers[^2].Output),
            TailInputGradient = IlgpuBackend.View(layers[^2].OutputGradient),
            TailInputs = outputLayer.Inputs,
            OutputWeights = outputLayer.WeightOffset,
            Activations = IlgpuBackend.View(Network.Activations),
            ActivationGradients = IlgpuBackend.View(Network.ActivationGradients),
            LayerTable = IlgpuBackend.View(layerTable),
            DenseLayers = layers.Count,
            Output = IlgpuBackend.View(output),
            Losses = IlgpuBackend.View(losses),
            Predictions = IlgpuBackend.View(predictions),
            Start = start,
            Batch = batch,
            Pixels = shape.Inputs,
            HiddenUnits = shape.Hidden,
            Classes = shape.Classes,
            HiddenDropoutKey = hiddenDropout.Key,
            HiddenDropoutThreshold = hiddenDropout.Threshold,
            HiddenDropoutScale = hiddenDropout.Scale,
            TailDropoutScale = FoldedDropout.For(dropouts[^2], context).Scale,
            Optimizer = optimizer,
        };
    }
}
