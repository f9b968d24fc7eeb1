using MnistGpu.Engine.Backends;
using MnistGpu.Engine.Model;
using MnistGpu.Engine.Model.Layers;
using MnistGpu.Engine.Reference;

namespace MnistGpu.Tests.Support;

/// <summary>
/// A network on a backend with given parameters and the first <c>batch</c> test digits as its
/// batch: the batch's mean training loss and the backward's gradients, for the gradient checks
/// (<see cref="ExpectFiniteDifferences"/> on the reference, device against reference elsewhere).
/// </summary>
internal sealed class LossProbe : IDisposable
{
    private readonly ITrainingBackend backend;
    private readonly int batch;
    private readonly DeviceArray<float> losses;
    private readonly DeviceArray<int> predictions;

    public LossProbe(ITrainingBackend backend, NetworkShape shape, int batch, float[] parameters)
    {
        (this.backend, this.batch) = (backend, batch);
        Network = new Network(backend, shape, batch, optimizerStateArrays: 0);
        Network.SetParameters(parameters);
        var test = Bundled.Mnist.Test;
        backend.Upload<float>(test.Images[..(batch * test.Pixels)].Select(p => p / 255f).ToArray(), Network.Input);
        backend.Upload<int>(test.Labels[..batch].Select(l => (int)l).ToArray(), Network.Labels);
        losses = backend.Allocate<float>(batch);
        predictions = backend.Allocate<int>(batch);
    }

    public Network Network { get; }

    /// <summary>The batch's mean loss, after a training step's forward and backward (step 1 of seed 1).</summary>
    public double Loss()
    {
        Network.ComputeGradients(batch, new SampleOutputs(losses, predictions, 0), StepContext.ForTraining(1, 1));
        if (backend is ReferenceBackend)
            return ReferenceBackend.Span(losses).ToArray().Average();
        var values = new float[batch];
        backend.Download(losses, values);
        return values.Average();
    }

    /// <summary>Every parameter's gradient of <see cref="Loss"/>.</summary>
    public double[] Gradients()
    {
        Loss();
        return backend is ReferenceBackend ? ReferenceBackend.Span(Network.Gradients).ToArray() : Array.ConvertAll(Network.GetGradients(), v => (double)v);
    }

    /// <summary><see cref="FiniteDifferences.Expect"/> at <paramref name="indices"/>, on a probe of the reference backend.</summary>
    public void ExpectFiniteDifferences(IEnumerable<int> indices, double h, double absolute, double relative, double clearAbove, int minimumClear)
    {
        var analytic = Gradients();
        FiniteDifferences.Expect(ReferenceBackend.Span(Network.Parameters), Loss, analytic, indices, h, absolute, relative, clearAbove, minimumClear, Network.Shape.Locate);
    }

    public void Dispose()
    {
        losses.Dispose();
        predictions.Dispose();
        Network.Dispose();
    }
}
