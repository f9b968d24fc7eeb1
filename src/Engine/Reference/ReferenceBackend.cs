using System.Numerics;
using MnistGpu.Engine.Backends;
using MnistGpu.Engine.Model;
using MnistGpu.Kernels;

namespace MnistGpu.Engine.Reference;

/// <summary>
/// <see cref="ReferenceMath"/> behind the backend interface: every array is held in double
/// precision on the host, so the same trainer code that drives a device can be replayed here
/// and compared with it.
/// </summary>
public sealed class ReferenceBackend : ITrainingBackend
{
    private static string Implementation => "double-precision loops";

    public string DeviceName => "reference: double-precision host loops";

    /// <summary>The host's; the reference runs the small problems of tests and verification, so its double copies are not planned for.</summary>
    public DeviceMemory Memory => new(HostMemory.AvailableBytes(), null, null, SharesHostMemory: true);

    public DeviceArray<T> Allocate<T>(int length)
        where T : unmanaged, INumber<T> =>
        new HostArray<T, double>(new double[length], 0, length, released: null);

    public DeviceArray<T> Slice<T>(DeviceArray<T> array, int offset, int length)
        where T : unmanaged, INumber<T> => HostArray<T, double>.Of(array).Slice(offset, length);

    public void Upload<T>(ReadOnlySpan<T> source, DeviceArray<T> target)
        where T : unmanaged, INumber<T>
    {
        ArgumentOutOfRangeException.ThrowIfNotEqual(source.Length, target.Length);
        var span = Span(target);
        for (int i = 0; i < source.Length; i++)
            span[i] = double.CreateChecked(source[i]);
    }

    public void Download<T>(DeviceArray<T> source, Span<T> target)
        where T : unmanaged, INumber<T>
    {
        ArgumentOutOfRangeException.ThrowIfNotEqual(target.Length, source.Length);
        var span = Span(source);
        for (int i = 0; i < target.Length; i++)
            target[i] = T.CreateChecked(span[i]);
    }

    public void DenseForward(DenseParameters layer, DeviceArray<float> x, DeviceArray<float> y, int batch, bool relu) =>
        ReferenceMath.DenseForward(Span(x), Span(layer.Weights), Span(layer.Bias), Span(y), batch, layer.Inputs, layer.Outputs, relu);

    public void DenseBackwardInput(DenseParameters layer, DeviceArray<float> dy, DeviceArray<float> activation, DeviceArray<float> dx, int batch, bool relu) =>
        ReferenceMath.DenseBackwardInput(Span(dy), Span(layer.Weights), Span(activation), Span(dx), batch, layer.Inputs, layer.Outputs, relu);

    public void DenseBackwardParameters(DenseParameters gradients, DeviceArray<float> x, DeviceArray<float> dy, int batch) =>
        ReferenceMath.DenseBackwardParameters(Span(x), Span(dy), Span(gradients.Weights), Span(gradients.Bias), batch, gradients.Inputs, gradients.Outputs);

    public void ConvolutionForward(ConvolutionParameters layer, DeviceArray<float> x, DeviceArray<float> y, DeviceArray<float> scratch, int batch, bool relu) =>
        ReferenceMath.ConvolutionForward(Span(x), Span(layer.Matrix.Weights), Span(layer.Matrix.Bias), Span(y), batch, layer.Shape, relu);

    public void ConvolutionBackwardParameters(ConvolutionParameters gradients, DeviceArray<float> x, DeviceArray<float> dy, DeviceArray<float> scratch, int batch) =>
        ReferenceMath.ConvolutionBackwardParameters(Span(x), Span(dy), Span(gradients.Matrix.Weights), Span(gradients.Matrix.Bias), batch, gradients.Shape);

    public void ConvolutionBackwardInput(ConvolutionParameters layer, DeviceArray<float> dy, DeviceArray<float> activation, DeviceArray<float> dx, DeviceArray<float> scratch, int batch, bool relu) =>
        ReferenceMath.ConvolutionBackwardInput(Span(dy), Span(layer.Matrix.Weights), Span(activation), Span(dx), batch, layer.Shape, relu);

    public void Run(Operation operation) => operation.RunReference();

    public void OptimizerUpdate(DeviceArray<float> weights, DeviceArray<float> gradients, OptimizerState state, OptimizerStep update)
    {
        var arrays = state.Arrays;
        switch (update.Rule)
        {
            case UpdateRule.RmsProp:
                ReferenceMath.RmsPropUpdate(Span(weights), Span(gradients), Span(arrays[0]), update.StepSize, update.Rho, update.Epsilon);
                break;
            case UpdateRule.Adam:
                ReferenceMath.AdamUpdate(Span(weights), Span(gradients), Span(arrays[0]), Span(arrays[1]), update.StepSize, update.Beta1, update.Beta2, update.Epsilon);
                break;
            case UpdateRule.Sgd:
                ReferenceMath.SgdUpdate(Span(weights), Span(gradients), velocity: [], update.StepSize, update.Momentum, nesterov: false);
                break;
            default:
                ReferenceMath.SgdUpdate(Span(weights), Span(gradients), Span(arrays[0]), update.StepSize, update.Momentum, update.Nesterov != 0);
                break;
        }
    }

    public void Synchronize()
    {
    }

    public string MatMulImplementation(MatMulProblem problem) => Implementation;

    public IReadOnlyList<string> MatMulVariants => [Implementation];

    public void Dispose()
    {
    }

    /// <summary>The double-precision contents of an array this backend allocated.</summary>
    public static Span<double> Span<T>(DeviceArray<T> array)
        where T : unmanaged, INumber<T> => HostArray<T, double>.Of(array).Span;
}
