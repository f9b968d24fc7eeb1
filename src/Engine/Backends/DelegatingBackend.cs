using System.Numerics;
using MnistGpu.Kernels;

namespace MnistGpu.Engine.Backends;

/// <summary>
/// A backend that passes every call to another one: the base for decorators that watch or
/// alter operations (profiling, fault injection in tests). Each compute operation goes through
/// <see cref="Around"/> with a label that says what it is, so a decorator that only watches
/// overrides that one hook. The inner backend stays with its owner: disposing the decorator does
/// not dispose it.
/// </summary>
public abstract class DelegatingBackend(ITrainingBackend inner) : ITrainingBackend
{
    protected ITrainingBackend Inner { get; } = inner;

    public virtual string DeviceName => Inner.DeviceName;

    public DeviceMemory Memory => Inner.Memory;

    public DeviceArray<T> Allocate<T>(int length)
        where T : unmanaged, INumber<T> => Inner.Allocate<T>(length);

    public DeviceArray<T> Slice<T>(DeviceArray<T> array, int offset, int length)
        where T : unmanaged, INumber<T> => Inner.Slice(array, offset, length);

    public void Upload<T>(ReadOnlySpan<T> source, DeviceArray<T> target)
        where T : unmanaged, INumber<T> => Inner.Upload(source, target);

    public void Download<T>(DeviceArray<T> source, Span<T> target)
        where T : unmanaged, INumber<T> => Inner.Download(source, target);

    /// <summary>The inner backend's fusion: a wrapper keeps it unless it opts out by returning null.</summary>
    public virtual ITrainingBackend? FusionTarget => Inner.FusionTarget;

    public long KernelLaunches => Inner.KernelLaunches;

    public TimeSpan LaunchIssueTime => Inner.LaunchIssueTime;

    public virtual void DenseForward(DenseParameters layer, DeviceArray<float> x, DeviceArray<float> y, int batch, bool relu) =>
        Around($"dense forward {layer.Inputs}->{layer.Outputs}{(relu ? " +ReLU" : "")}", DenseFlops(layer, batch), () => Inner.DenseForward(layer, x, y, batch, relu));

    public virtual void DenseBackwardInput(DenseParameters layer, DeviceArray<float> dy, DeviceArray<float> activation, DeviceArray<float> dx, int batch, bool relu) =>
        Around($"dense backward input {layer.Outputs}->{layer.Inputs}{(relu ? " +ReLU mask" : "")}", DenseFlops(layer, batch), () => Inner.DenseBackwardInput(layer, dy, activation, dx, batch, relu));

    public virtual void DenseBackwardParameters(DenseParameters gradients, DeviceArray<float> x, DeviceArray<float> dy, int batch) =>
        Around($"dense backward parameters {gradients.Inputs}->{gradients.Outputs}", DenseFlops(gradients, batch), () => Inner.DenseBackwardParameters(gradients, x, dy, batch));

    public virtual void ConvolutionForward(ConvolutionParameters layer, DeviceArray<float> x, DeviceArray<float> y, DeviceArray<float> scratch, int batch, bool relu) =>
        Around($"conv{Size(layer)} forward {Maps(layer)}{(relu ? " +ReLU" : "")}", ConvolutionFlops(layer, batch), () => Inner.ConvolutionForward(layer, x, y, scratch, batch, relu));

    public virtual void ConvolutionBackwardParameters(ConvolutionParameters gradients, DeviceArray<float> x, DeviceArray<float> dy, DeviceArray<float> scratch, int batch) =>
        Around($"conv{Size(gradients)} backward parameters {Maps(gradients)}", ConvolutionFlops(gradients, batch), () => Inner.ConvolutionBackwardParameters(gradients, x, dy, scratch, batch));

    public virtual void ConvolutionBackwardInput(ConvolutionParameters layer, DeviceArray<float> dy, DeviceArray<float> activation, DeviceArray<float> dx, DeviceArray<float> scratch, int batch, bool relu) =>
        Around($"conv{Size(layer)} backward input {Maps(layer)}{(relu ? " +ReLU mask" : "")}", ConvolutionFlops(layer, batch), () => Inner.ConvolutionBackwardInput(layer, dy, activation, dx, scratch, batch, relu));

    public virtual void Run(Operation operation) =>
        Around(operation.Label, operation.Flops, () => Inner.Run(operation));

    public virtual void OptimizerUpdate(DeviceArray<float> weights, DeviceArray<float> gradients, OptimizerState state, OptimizerStep update) =>
        Around(update.Rule switch { UpdateRule.RmsProp => "rmsprop", UpdateRule.Adam => "adam", _ => "sgd" }, 0, () => Inner.OptimizerUpdate(weights, gradients, state, update));

    public virtual void Synchronize() => Inner.Synchronize();

    public string MatMulImplementation(MatMulProblem problem) => Inner.MatMulImplementation(problem);

    public IReadOnlyList<string> MatMulVariants => Inner.MatMulVariants;

    public string? MatMulVariantOverride
    {
        get => Inner.MatMulVariantOverride;
        set => Inner.MatMulVariantOverride = value;
    }

    public void Dispose() => GC.SuppressFinalize(this);

    private static string Size(ConvolutionParameters layer) => $"{layer.Shape.KernelSize}x{layer.Shape.KernelSize}";

    private static string Maps(ConvolutionParameters layer) =>
        $"{layer.Shape.Height}x{layer.Shape.Width}x{layer.Shape.Channels}->{layer.Shape.OutputHeight}x{layer.Shape.OutputWidth}x{layer.Shape.Filters}";

    /// <summary>
    /// Runs one compute operation; <paramref name="operation"/> says which, e.g. "dense forward
    /// 784->512 +ReLU", and <paramref name="flops"/> how many floating-point operations its
    /// products do (2 per multiply-add; 0 for an operation without products).
    /// </summary>
    protected virtual void Around(string operation, long flops, Action body) => body();

    private static long DenseFlops(DenseParameters layer, int batch) => 2L * batch * layer.Inputs * layer.Outputs;

    private static long ConvolutionFlops(ConvolutionParameters layer, int batch) => 2L * batch * layer.Shape.Positions * layer.Shape.PatchSize * layer.Shape.Filters;
}
