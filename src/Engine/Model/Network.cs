using MnistGpu.Engine.Backends;

namespace MnistGpu.Engine.Model;

/// <summary>
/// The network on a backend: parameters, their gradients and the RMSprop state as three flat
/// arrays of the same layout (one optimizer launch covers all of them), and the activations of a
/// batch of up to <see cref="BatchCapacity"/> rows. Everything is allocated here, once; a
/// training step only launches operations on it.
/// </summary>
public sealed class Network : IDisposable
{
    private readonly ITrainingBackend backend;
    private readonly List<IDisposable> owned = [];

    public Network(ITrainingBackend backend, NetworkShape shape, int batchCapacity)
    {
        this.backend = backend;
        Shape = shape;
        BatchCapacity = batchCapacity;

        Parameters = Own(backend.Allocate<float>(shape.ParameterCount));
        Gradients = Own(backend.Allocate<float>(shape.ParameterCount));
        MeanSquares = Own(backend.Allocate<float>(shape.ParameterCount));
        Hidden = DenseParameters.Within(backend, Parameters, shape.HiddenLayer);
        Output = DenseParameters.Within(backend, Parameters, shape.OutputLayer);
        HiddenGradients = DenseParameters.Within(backend, Gradients, shape.HiddenLayer);
        OutputGradients = DenseParameters.Within(backend, Gradients, shape.OutputLayer);

        Input = Own(backend.Allocate<float>(batchCapacity * shape.Inputs));
        Labels = Own(backend.Allocate<int>(batchCapacity));
        HiddenActivations = Own(backend.Allocate<float>(batchCapacity * shape.Hidden));
        Logits = Own(backend.Allocate<float>(batchCapacity * shape.Classes));
        LogitGradients = Own(backend.Allocate<float>(batchCapacity * shape.Classes));
        HiddenActivationGradients = Own(backend.Allocate<float>(batchCapacity * shape.Hidden));
    }

    public NetworkShape Shape { get; }

    /// <summary>
    /// Adds what the constructor allocates for <paramref name="shape"/> and a batch of
    /// <paramref name="batchCapacity"/> to <paramref name="plan"/>, after checking the shape.
    /// </summary>
    /// <exception cref="UserInputException">The shape is invalid or an array could not exist.</exception>
    public static MemoryPlan Plan(MemoryPlan plan, NetworkShape shape, int batchCapacity)
    {
        shape.Validate();
        const string Part = "the network";
        return plan
            .Add<float>(Part, "parameters, gradients and RMSprop state", shape.ParameterCount, count: 3)
            .Add<float>(Part, "the batch's inputs", (long)batchCapacity * shape.Inputs)
            .Add<int>(Part, "the batch's labels", batchCapacity)
            .Add<float>(Part, "hidden activations and their gradients", (long)batchCapacity * shape.Hidden, count: 2)
            .Add<float>(Part, "logits and their gradients", (long)batchCapacity * shape.Classes, count: 2);
    }

    public int BatchCapacity { get; }

    internal DeviceArray<float> Parameters { get; }

    internal DeviceArray<float> Gradients { get; }

    internal DeviceArray<float> MeanSquares { get; }

    internal DenseParameters Hidden { get; }

    internal DenseParameters Output { get; }

    internal DenseParameters HiddenGradients { get; }

    internal DenseParameters OutputGradients { get; }

    /// <summary>x (B,I): the batch's pixels in [0,1].</summary>
    internal DeviceArray<float> Input { get; }

    /// <summary>(B): the batch's class labels.</summary>
    internal DeviceArray<int> Labels { get; }

    /// <summary>h (B,H) = ReLU(x·W1 + b1)</summary>
    internal DeviceArray<float> HiddenActivations { get; }

    /// <summary>z (B,C) = h·W2 + b2</summary>
    internal DeviceArray<float> Logits { get; }

    /// <summary>dz (B,C); also receives the probabilities of a forward-only pass.</summary>
    internal DeviceArray<float> LogitGradients { get; }

    /// <summary>dh (B,H), already masked by the ReLU.</summary>
    internal DeviceArray<float> HiddenActivationGradients { get; }

    public void SetParameters(ReadOnlySpan<float> parameters) => backend.Upload(parameters, Parameters);

    public void SetMeanSquares(ReadOnlySpan<float> meanSquares) => backend.Upload(meanSquares, MeanSquares);

    public float[] GetParameters() => Download(Parameters);

    public float[] GetGradients() => Download(Gradients);

    public float[] GetMeanSquares() => Download(MeanSquares);

    /// <summary>Logits for the <paramref name="batch"/> rows already in <see cref="Input"/>.</summary>
    internal void Forward(int batch)
    {
        backend.DenseForward(Hidden, Input, HiddenActivations, batch, relu: true);
        backend.DenseForward(Output, HiddenActivations, Logits, batch, relu: false);
    }

    /// <summary>
    /// Forward and backward for the batch in <see cref="Input"/>/<see cref="Labels"/>: leaves the
    /// gradient of the batch-mean loss in <see cref="Gradients"/> and each sample's loss and
    /// prediction at <paramref name="outputOffset"/> of the given arrays.
    /// </summary>
    internal void ComputeGradients(int batch, DeviceArray<float> losses, DeviceArray<int> predictions, int outputOffset)
    {
        Forward(batch);
        backend.SoftmaxCrossEntropyForwardBackward(Logits, Labels, LogitGradients, losses, predictions, outputOffset, batch, Shape.Classes);
        backend.DenseBackwardParameters(OutputGradients, HiddenActivations, LogitGradients, batch);
        backend.DenseBackwardInput(Output, LogitGradients, HiddenActivations, HiddenActivationGradients, batch);
        backend.DenseBackwardParameters(HiddenGradients, Input, HiddenActivationGradients, batch);
    }

    internal void ApplyRmsProp(float learningRate, float rho, float epsilon) =>
        backend.RmsPropUpdate(Parameters, Gradients, MeanSquares, learningRate, rho, epsilon);

    public void Dispose()
    {
        foreach (var array in owned)
            array.Dispose();
        owned.Clear();
    }

    private float[] Download(DeviceArray<float> array)
    {
        var result = new float[array.Length];
        backend.Download(array, result);
        return result;
    }

    private T Own<T>(T array)
        where T : IDisposable
    {
        owned.Add(array);
        return array;
    }
}
