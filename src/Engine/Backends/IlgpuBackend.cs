using System.Numerics;
using System.Runtime.InteropServices;
using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using MnistGpu.Kernels;

namespace MnistGpu.Engine.Backends;

/// <summary>
/// Runs the training operations as ILGPU kernels on one accelerator (CUDA, OpenCL or ILGPU's
/// CPU accelerator). Kernels are compiled once, here; each operation is one launch on the
/// accelerator's default stream, so nothing waits until a download or <see cref="Synchronize"/>.
/// </summary>
public sealed class IlgpuBackend : ITrainingBackend
{
    private readonly Context context;
    private readonly Accelerator accelerator;
    private readonly LaunchPlanner launch;

    private readonly Action<KernelConfig, ArrayView<byte>, ArrayView<byte>, ArrayView<int>, int, ArrayView<float>, ArrayView<int>, int, int> gatherBatch;
    private readonly Action<KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, int> matMulForward;
    private readonly Action<KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, int> matMulForwardRelu;
    private readonly Action<KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, int> matMulBackwardInput;
    private readonly Action<KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, int> matMulBackwardWeights;
    private readonly Action<KernelConfig, ArrayView<float>, ArrayView<float>, int, int> biasGradient;
    private readonly Action<KernelConfig, ArrayView<float>, ArrayView<int>, ArrayView<float>, ArrayView<float>, ArrayView<int>, int, int, int> softmaxForward;
    private readonly Action<KernelConfig, ArrayView<float>, ArrayView<int>, ArrayView<float>, ArrayView<float>, ArrayView<int>, int, int, int> softmaxForwardBackward;
    private readonly Action<KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, float, float, float> rmsProp;

    /// <summary>Creates an accelerator on <paramref name="device"/>; the backend owns <paramref name="context"/> from here on.</summary>
    public IlgpuBackend(Context context, Device device, string deviceName)
    {
        this.context = context;
        accelerator = device.CreateAccelerator(context);
        launch = new LaunchPlanner(accelerator);
        DeviceName = deviceName;

        gatherBatch = accelerator.LoadStreamKernel<ArrayView<byte>, ArrayView<byte>, ArrayView<int>, int, ArrayView<float>, ArrayView<int>, int, int>(GatherKernels.Batch);
        matMulForward = accelerator.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, int>(MatMulKernels.Forward);
        matMulForwardRelu = accelerator.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, int>(MatMulKernels.ForwardRelu);
        matMulBackwardInput = accelerator.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, int>(MatMulKernels.BackwardInput);
        matMulBackwardWeights = accelerator.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, int>(MatMulKernels.BackwardWeights);
        biasGradient = accelerator.LoadStreamKernel<ArrayView<float>, ArrayView<float>, int, int>(BiasKernels.Gradient);
        softmaxForward = accelerator.LoadStreamKernel<ArrayView<float>, ArrayView<int>, ArrayView<float>, ArrayView<float>, ArrayView<int>, int, int, int>(SoftmaxCrossEntropyKernels.Forward);
        softmaxForwardBackward = accelerator.LoadStreamKernel<ArrayView<float>, ArrayView<int>, ArrayView<float>, ArrayView<float>, ArrayView<int>, int, int, int>(SoftmaxCrossEntropyKernels.ForwardBackward);
        rmsProp = accelerator.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, int, float, float, float>(RmsPropKernels.Update);
    }

    public string DeviceName { get; }

    /// <summary>
    /// ILGPU's CPU accelerator configured as <paramref name="device"/> (default: 4 warps of 4
    /// threads); <see cref="CPUDevice.Nvidia"/> runs kernels with NVIDIA-sized groups and warps.
    /// </summary>
    public static IlgpuBackend CreateCpuAccelerator(CPUDevice? device = null)
    {
        var context = Context.Create(builder => builder.CPU(device ?? CPUDevice.Default));
        return new IlgpuBackend(context, context.GetCPUDevice(0), "cpu:0 (ILGPU CPU accelerator)");
    }

    public DeviceArray<T> Allocate<T>(int length)
        where T : unmanaged, INumber<T>
    {
        var buffer = accelerator.Allocate1D<T>(length);
        buffer.MemSetToZero();
        return new IlgpuArray<T>(buffer, buffer.View);
    }

    public DeviceArray<T> Slice<T>(DeviceArray<T> array, int offset, int length)
        where T : unmanaged, INumber<T>
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(length, array.Length - offset);
        return new IlgpuArray<T>(owner: null, View(array).SubView(offset, length));
    }

    public void Upload<T>(ReadOnlySpan<T> source, DeviceArray<T> target)
        where T : unmanaged, INumber<T>
    {
        ArgumentOutOfRangeException.ThrowIfNotEqual(source.Length, target.Length);
        View(target).CopyFromCPU(ref MemoryMarshal.GetReference(source), source.Length);
    }

    public void Download<T>(DeviceArray<T> source, Span<T> target)
        where T : unmanaged, INumber<T>
    {
        ArgumentOutOfRangeException.ThrowIfNotEqual(target.Length, source.Length);
        View(source).CopyToCPU(ref MemoryMarshal.GetReference(target), target.Length);
    }

    public void GatherBatch(
        DeviceArray<byte> images, DeviceArray<byte> labels, DeviceArray<int> order, int start,
        DeviceArray<float> x, DeviceArray<int> batchLabels, int batch, int pixels) =>
        gatherBatch(launch.For(batch * pixels), View(images), View(labels), View(order), start, View(x), View(batchLabels), batch, pixels);

    public void DenseForward(DenseParameters layer, DeviceArray<float> x, DeviceArray<float> y, int batch, bool relu) =>
        (relu ? matMulForwardRelu : matMulForward)(
            launch.ForMatMul(batch, layer.Outputs),
            View(x), View(layer.Weights), View(layer.Bias), View(y), batch, layer.Inputs, layer.Outputs);

    public void DenseBackwardInput(DenseParameters layer, DeviceArray<float> dy, DeviceArray<float> activation, DeviceArray<float> dx, int batch) =>
        matMulBackwardInput(
            launch.ForMatMul(batch, layer.Inputs),
            View(dy), View(layer.Weights), View(activation), View(dx), batch, layer.Inputs, layer.Outputs);

    public void DenseBackwardParameters(DenseParameters gradients, DeviceArray<float> x, DeviceArray<float> dy, int batch)
    {
        matMulBackwardWeights(
            launch.ForMatMul(gradients.Inputs, gradients.Outputs),
            View(x), View(dy), View(gradients.Weights), batch, gradients.Inputs, gradients.Outputs);
        biasGradient(launch.For(gradients.Outputs), View(dy), View(gradients.Bias), batch, gradients.Outputs);
    }

    public void SoftmaxCrossEntropyForward(
        DeviceArray<float> logits, DeviceArray<int> labels, DeviceArray<float> probabilities,
        DeviceArray<float> losses, DeviceArray<int> predictions, int outputOffset, int batch, int classes) =>
        softmaxForward(launch.For(batch), View(logits), View(labels), View(probabilities), View(losses), View(predictions), outputOffset, batch, classes);

    public void SoftmaxCrossEntropyForwardBackward(
        DeviceArray<float> logits, DeviceArray<int> labels, DeviceArray<float> logitGradients,
        DeviceArray<float> losses, DeviceArray<int> predictions, int outputOffset, int batch, int classes) =>
        softmaxForwardBackward(launch.For(batch), View(logits), View(labels), View(logitGradients), View(losses), View(predictions), outputOffset, batch, classes);

    public void RmsPropUpdate(DeviceArray<float> weights, DeviceArray<float> gradients, DeviceArray<float> meanSquares, float learningRate, float rho, float epsilon) =>
        rmsProp(launch.For(weights.Length), View(weights), View(gradients), View(meanSquares), weights.Length, learningRate, rho, epsilon);

    public void Synchronize() => accelerator.Synchronize();

    public void Dispose()
    {
        accelerator.Dispose();
        context.Dispose();
    }

    private static ArrayView<T> View<T>(DeviceArray<T> array)
        where T : unmanaged, INumber<T> =>
        array is IlgpuArray<T> ilgpu
            ? ilgpu.View
            : throw new ArgumentException("the array belongs to another backend", nameof(array));

    private sealed class IlgpuArray<T> : DeviceArray<T>
        where T : unmanaged, INumber<T>
    {
        private readonly MemoryBuffer? owner;

        public IlgpuArray(MemoryBuffer? owner, ArrayView<T> view)
            : base((int)view.Length)
        {
            this.owner = owner;
            View = view;
        }

        public ArrayView<T> View { get; }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
                owner?.Dispose();
            base.Dispose(disposing);
        }
    }
}
