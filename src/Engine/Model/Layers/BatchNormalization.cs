using MnistGpu.Engine.Backends;
using MnistGpu.Engine.Operations.BatchNormalization;

namespace MnistGpu.Engine.Model.Layers;

/// <summary>
/// Keras' BatchNormalization (Keras 3's rule: momentum 0.99, ε 1e-3, γ = 1, β = 0, moving mean 0
/// and variance 1 at the start): per feature of flat rows, per channel of feature maps. While training it normalises by the batch's
/// statistics and moves the moving ones towards them; otherwise it uses the moving ones. Spec:
/// "batchnorm", or "batchnorm:relu" for a ReLU after it (after a "conv…:linear", the usual
/// pre-activation form); not first, on the images. A layer before it keeps its bias: Keras'
/// layers do unless told otherwise.
/// </summary>
public sealed class BatchNormalization : ILayerKind
{
    private BatchNormalization()
    {
    }

    public static BatchNormalization Kind { get; } = new();

    public string Name => "batchnorm";

    public string TypeName => "BatchNormalization";

    public string Usage => "batchnorm[:relu]";

    public Layer Create(string argument, FeatureShape input, long offset) => argument switch
    {
        "" => new BatchNormLayerShape(input, relu: false, offset),
        "relu" => new BatchNormLayerShape(input, relu: true, offset),
        _ => throw new UserInputException($"batchnorm takes nothing or ':relu' (a ReLU after it), not 'batchnorm:{argument}'"),
    };
}

/// <summary>A batch normalisation's sizes: γ then β per feature (trained), the moving mean then variance per feature (kept), the batch's mean and 1/√(σ² + ε) (saved).</summary>
public sealed class BatchNormLayerShape(FeatureShape input, bool relu, long offset)
    : Layer(BatchNormalization.Kind, input, input, offset)
{
    /// <summary>What it normalises separately: a flat row's values, or a map's (or image's) channels.</summary>
    public int Features { get; } = input.Layout == FeatureLayout.Flat ? (int)Math.Min(input.Size, int.MaxValue) : input.Channels;

    public override bool Relu => relu;

    /// <summary>On the images themselves it would normalise the one grey channel of raw pixels, which the exported graph reads as rows; refused.</summary>
    public override string? Problem => Input.Layout == FeatureLayout.Image
        ? "batchnorm normalises a layer's outputs: put it after a dense layer or a convolution, not first"
        : null;

    public override long ParameterCount => 2L * Features;

    public override int StateCount => 2 * Features;

    /// <summary>The batch's mean and 1/√(σ² + ε), then the input gradient's own dγ and dβ.</summary>
    public override int SavedCount => 4 * Features;

    /// <summary>The chunks' partial sums: at most one chunk per sample, two sums per feature.</summary>
    public override long ScratchPerRow => 2L * Features;

    /// <summary>Rows of a batch per sample: a map's positions, or 1.</summary>
    public int Positions => Inputs / Features;

    /// <summary>Rows one work item sums: whole samples, within <see cref="BatchNormKernels.MaxChunkRows"/> where a sample fits.</summary>
    public int ChunkRows => Positions * Math.Max(1, BatchNormKernels.MaxChunkRows / Positions);

    public override LayerSpec Spec => new(BatchNormalization.Kind, relu ? "relu" : "");

    public override void Initialize(Span<float> parameters, Random random, Initializer initializer)
    {
        parameters[..Features].Fill(1f);
        parameters[Features..].Clear();
    }

    public override void InitializeState(Span<float> state)
    {
        state[..Features].Clear();
        state[Features..].Fill(1f);
    }

    public override string Locate(int index) => index < Features ? $"gamma [{index}]" : $"beta [{index - Features}]";

    public override LayerOnDevice Bind(ITrainingBackend backend, LayerArrays arrays) => new BatchNormOnDevice(
        this,
        backend.Slice(arrays.Parameters, Offset, 2 * Features),
        backend.Slice(arrays.Gradients, Offset, 2 * Features),
        arrays,
        backend);

    public override string ToString() => $"batchnorm {Input}";
}

/// <summary>A batch normalisation on a backend: its operation's passes (<see cref="BatchNormOperation"/>).</summary>
public sealed class BatchNormOnDevice(BatchNormLayerShape shape, DeviceArray<float> parameters, DeviceArray<float> gradients, LayerArrays arrays, ITrainingBackend backend)
    : LayerOnDevice(arrays.Output, arrays.OutputGradient)
{
    private readonly DeviceArray<float> statistics = backend.Slice(arrays.Saved!, 0, 2 * shape.Features);

    /// <summary>The input gradient's own dγ and dβ: it runs before the parameter gradient in some runners.</summary>
    private readonly DeviceArray<float> inputGradientSums = backend.Slice(arrays.Saved!, 2 * shape.Features, 2 * shape.Features);

    public override void Forward(ITrainingBackend backend, DeviceArray<float> x, int batch, bool relu, StepContext context) =>
        backend.Run(Pass(context.Training ? BatchNormPass.ForwardTraining : BatchNormPass.ForwardInference, x, Output, batch, relu));

    public override void BackwardParameters(ITrainingBackend backend, DeviceArray<float> x, int batch, StepContext context) =>
        backend.Run(Pass(BatchNormPass.BackwardParameters, x, Output, batch, relu: false));

    public override void BackwardInput(ITrainingBackend backend, DeviceArray<float> activation, DeviceArray<float> dx, int batch, bool relu, StepContext context) =>
        backend.Run(Pass(BatchNormPass.BackwardInput, activation, dx, batch, relu));

    /// <summary>The last operation of each pass, run again while its arrays and batch are the same: a step allocates none.</summary>
    private readonly BatchNormOperation?[] passes = new BatchNormOperation?[Enum.GetValues<BatchNormPass>().Length];

    private BatchNormOperation Pass(BatchNormPass pass, DeviceArray<float> x, DeviceArray<float> target, int batch, bool relu)
    {
        ref var last = ref passes[(int)pass];
        if (last is null || last.Rows != batch * shape.Positions || !ReferenceEquals(last.Input, x) || !ReferenceEquals(last.Target, target) || last.Relu != relu)
            last = New(pass, x, target, batch, relu);
        return last;
    }

    private BatchNormOperation New(BatchNormPass pass, DeviceArray<float> x, DeviceArray<float> target, int batch, bool relu) => new()
    {
        Pass = pass,
        Rows = batch * shape.Positions,
        Features = shape.Features,
        ChunkRows = shape.ChunkRows,
        Input = x,
        OutputGradient = OutputGradient,
        Target = target,
        Parameters = parameters,
        Gradients = pass == BatchNormPass.BackwardInput ? inputGradientSums : gradients,
        State = arrays.State!,
        Saved = statistics,
        Partials = arrays.Scratch,
        Relu = relu,
    };
}
