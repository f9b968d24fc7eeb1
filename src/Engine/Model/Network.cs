using MnistGpu.Engine.Backends;
using MnistGpu.Engine.Model.Layers;
using MnistGpu.Engine.Operations.Softmax;

namespace MnistGpu.Engine.Model;

/// <summary>
/// The network on a backend: parameters, their gradients and the optimizer's state as flat
/// arrays of the same layout (one optimizer launch covers all of them), and the activations of a
/// batch of up to <see cref="BatchCapacity"/> rows. Everything is allocated here, once; a
/// training step only launches operations on it. <see cref="Forward"/> and
/// <see cref="ComputeGradients"/> are the unfused definition of the network, llm.c-style.
/// </summary>
public sealed class Network : IDisposable
{
    private readonly List<IDisposable> owned = [];
    private SoftmaxCrossEntropyOperation? loss;

    /// <param name="optimizerStateArrays">How many arrays of state the optimizer keeps (<see cref="OptimizerSettings.StateArrays"/>); 0 for a network that is only evaluated.</param>
    /// <param name="convolutions">How its convolutions' products run on ILGPU devices.</param>
    public Network(ITrainingBackend backend, NetworkShape shape, int batchCapacity, int optimizerStateArrays, ConvolutionAlgorithm convolutions = ConvolutionAlgorithm.Implicit)
    {
        Backend = backend;
        Shape = shape;
        BatchCapacity = batchCapacity;

        Parameters = Own(backend.Allocate<float>(shape.ParameterCount));
        Gradients = Own(backend.Allocate<float>(shape.ParameterCount));
        OptimizerState = new OptimizerState(Enumerable.Range(0, optimizerStateArrays).Select(_ => Own(backend.Allocate<float>(shape.ParameterCount))).ToList());
        Input = Own(backend.Allocate<float>(batchCapacity * shape.Inputs));
        Labels = Own(backend.Allocate<int>(batchCapacity));
        // Every layer's output, and every output gradient, in one array each, layer after layer,
        // so that one fused kernel can reach all of them.
        int activations = batchCapacity * shape.Layers.Sum(layer => layer.Outputs);
        Activations = Own(backend.Allocate<float>(activations));
        ActivationGradients = Own(backend.Allocate<float>(activations));
        // One scratch for all layers: each uses it only within one of its operations.
        Scratch = Own(backend.Allocate<float>((int)ScratchLength(shape, batchCapacity)));
        // The layers' kept state and saved values, each in one array (one element at least, as every array).
        State = Own(backend.Allocate<float>(Math.Max(shape.StateCount, 1)));
        int saved = shape.Layers.Sum(layer => layer.SavedCount);
        Saved = Own(backend.Allocate<float>(Math.Max(saved, 1)));
        SetState(shape.InitialState());
        Layers = shape.Layers.Select((layer, i) => layer.Bind(
            backend,
            new LayerArrays(
                Parameters,
                Gradients,
                backend.Slice(Activations, ActivationOffset(i), batchCapacity * layer.Outputs),
                backend.Slice(ActivationGradients, ActivationOffset(i), batchCapacity * layer.Outputs),
                Scratch,
                i)
            {
                State = layer.StateCount > 0 ? backend.Slice(State, shape.StateOffset(i), layer.StateCount) : null,
                Saved = layer.SavedCount > 0 ? backend.Slice(Saved, shape.Layers.Take(i).Sum(l => l.SavedCount), layer.SavedCount) : null,
                Convolutions = convolutions,
            })).ToList();
        DenseLayers = shape.IsDenseStack ? Layers.OfType<DenseOnDevice>().ToList() : [];
    }

    /// <summary>The backend everything here lives on and every operation runs on.</summary>
    public ITrainingBackend Backend { get; }

    public NetworkShape Shape { get; }

    public int BatchCapacity { get; }

    internal DeviceArray<float> Parameters { get; }

    internal DeviceArray<float> Gradients { get; }

    /// <summary>The layers' kept, untrained values (<see cref="NetworkShape.StateCount"/>, at least one element).</summary>
    internal DeviceArray<float> State { get; }

    /// <summary>What the layers' forwards keep for their backwards.</summary>
    private DeviceArray<float> Saved { get; }

    /// <summary>The optimizer's state: RMSprop's mean squares, Adam's moments, SGD's velocity, or nothing.</summary>
    internal OptimizerState OptimizerState { get; }

    /// <summary>x (B,I): the batch's pixels in [0,1].</summary>
    internal DeviceArray<float> Input { get; }

    /// <summary>(B): the batch's class labels.</summary>
    internal DeviceArray<int> Labels { get; }

    /// <summary>Every layer, input side first; a ReLU follows those whose shape says so (<see cref="Layer.Relu"/>).</summary>
    internal IReadOnlyList<LayerOnDevice> Layers { get; }

    /// <summary>The dense layers of a dense stack (its dropouts left out), for the fused steps written for one; empty otherwise.</summary>
    internal IReadOnlyList<DenseOnDevice> DenseLayers { get; }

    /// <summary>Every layer's output (B,O) for a batch, layer after layer: layer i's starts at <see cref="ActivationOffset"/>(i).</summary>
    internal DeviceArray<float> Activations { get; }

    /// <summary>Every layer's output gradient, laid out as <see cref="Activations"/>.</summary>
    internal DeviceArray<float> ActivationGradients { get; }

    /// <summary>Working space layers share within an operation (a convolution's unrolled patches).</summary>
    internal DeviceArray<float> Scratch { get; }

    /// <summary>z (B,C): the last layer's output.</summary>
    internal DeviceArray<float> Logits => Layers[^1].Output;

    /// <summary>dz (B,C); also receives the probabilities of a forward-only pass.</summary>
    internal DeviceArray<float> LogitGradients => Layers[^1].OutputGradient;

    /// <summary>
    /// Adds what the constructor allocates for <paramref name="shape"/> and a batch of
    /// <paramref name="batchCapacity"/> to <paramref name="plan"/>, after checking the shape.
    /// </summary>
    /// <exception cref="UserInputException">The shape is invalid or an array could not exist.</exception>
    public static MemoryPlan Plan(MemoryPlan plan, NetworkShape shape, int batchCapacity, int optimizerStateArrays)
    {
        shape.Validate();
        const string Part = "the network";
        plan.Add<float>(Part, "parameters, gradients and optimizer state", shape.ParameterCount, count: 2 + optimizerStateArrays)
            .Add<float>(Part, "the batch's inputs", (long)batchCapacity * shape.Inputs)
            .Add<int>(Part, "the batch's labels", batchCapacity);
        plan.Add<float>(Part, "every layer's activations and their gradients", (long)batchCapacity * shape.Layers.Sum(layer => (long)layer.Outputs), count: 2);
        plan.Add<float>(Part, "the layers' scratch", ScratchLength(shape, batchCapacity));
        plan.Add<float>(Part, "the layers' state and saved values", Math.Max(shape.StateCount, 1) + Math.Max(shape.Layers.Sum(layer => (long)layer.SavedCount), 1));
        return plan;
    }

    public void SetParameters(ReadOnlySpan<float> parameters) => Backend.Upload(parameters, Parameters);

    /// <summary>Sets the optimizer's state arrays, in <see cref="OptimizerSettings.StateName"/>'s order.</summary>
    public void SetOptimizerState(IReadOnlyList<float[]> state)
    {
        if (state.Count != OptimizerState.Arrays.Count)
            throw new ArgumentException($"{state.Count} state arrays for an optimizer that keeps {OptimizerState.Arrays.Count}", nameof(state));
        for (int i = 0; i < state.Count; i++)
            Backend.Upload<float>(state[i], OptimizerState.Arrays[i]);
    }

    public float[] GetParameters() => Download(Parameters);

    /// <summary>Sets the layers' state (<see cref="NetworkShape.StateCount"/> values), as a checkpoint keeps it.</summary>
    public void SetState(ReadOnlySpan<float> state)
    {
        if (state.Length != Shape.StateCount)
            throw new ArgumentException($"{state.Length} state values for a network that keeps {Shape.StateCount}", nameof(state));
        if (state.Length > 0)
            Backend.Upload(state, Backend.Slice(State, 0, state.Length));
    }

    public float[] GetState() => Shape.StateCount == 0 ? [] : Download(State)[..Shape.StateCount];

    public float[] GetGradients() => Download(Gradients);

    public IReadOnlyList<float[]> GetOptimizerState() => OptimizerState.Arrays.Select(Download).ToList();

    /// <summary>
    /// Logits for the <paramref name="batch"/> rows already in <see cref="Input"/>: each layer's
    /// output is the next one's input. From <paramref name="fromLayer"/> on when a backend has
    /// computed the layers below it its own way (the host's sparse first layer). A training step's
    /// <paramref name="context"/> makes layers that train differently (Dropout) do so.
    /// </summary>
    internal void Forward(int batch, StepContext context, int fromLayer = 0)
    {
        for (int i = fromLayer; i < Layers.Count; i++)
            Layers[i].Forward(Backend, LayerInput(i), batch, Shape.Layers[i].Relu, context);
    }

    /// <summary>
    /// Forward and backward for the batch in <see cref="Input"/>/<see cref="Labels"/>: leaves the
    /// gradient of the batch-mean loss in <see cref="Gradients"/> and each sample's loss and
    /// prediction in <paramref name="outputs"/>. Backward runs from the last layer down: each
    /// layer's parameter gradient, then the gradient of its input (through the ReLU below it, if any).
    /// With <paramref name="lowestLayer"/> above 0, the layers below it are left to the caller:
    /// their outputs must be in place, and backward stops at the gradient of their output.
    /// </summary>
    internal void ComputeGradients(int batch, SampleOutputs outputs, StepContext context, int lowestLayer = 0)
    {
        Forward(batch, context, lowestLayer);
        Backend.Run(SoftmaxCrossEntropyOperation.Reuse(ref loss, backward: true, Logits, Labels, LogitGradients, Shape.Classes, outputs, batch));
        for (int i = Layers.Count - 1; i >= lowestLayer; i--)
        {
            Layers[i].BackwardParameters(Backend, LayerInput(i), batch, context);
            if (i > 0)
                Layers[i].BackwardInput(Backend, Layers[i - 1].Output, Layers[i - 1].OutputGradient, batch, Shape.Layers[i - 1].Relu, context);
        }
    }

    public void Dispose()
    {
        foreach (var array in owned)
            array.Dispose();
        owned.Clear();
    }

    /// <summary>Where layer <paramref name="layer"/>'s output starts in <see cref="Activations"/> (and its gradient in <see cref="ActivationGradients"/>).</summary>
    internal int ActivationOffset(int layer) => BatchCapacity * Shape.Layers.Take(layer).Sum(l => l.Outputs);

    /// <summary>The scratch every layer shares: the largest any needs for a batch, at least one float (an array cannot be empty on every backend).</summary>
    private static long ScratchLength(NetworkShape shape, int batchCapacity) => Math.Max(1, batchCapacity * shape.Layers.Max(layer => layer.ScratchPerRow));

    private DeviceArray<float> LayerInput(int layer) => layer == 0 ? Input : Layers[layer - 1].Output;

    private float[] Download(DeviceArray<float> array)
    {
        var result = new float[array.Length];
        Backend.Download(array, result);
        return result;
    }

    private T Own<T>(T array)
        where T : IDisposable
    {
        owned.Add(array);
        return array;
    }
}
