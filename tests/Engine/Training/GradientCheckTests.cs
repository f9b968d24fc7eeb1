using MnistGpu.Engine.Backends;
using MnistGpu.Engine.Model;
using MnistGpu.Engine.Model.Layers;
using MnistGpu.Engine.Reference;
using MnistGpu.Engine.Verification;
using MnistGpu.Tests.Support;

namespace MnistGpu.Tests.Engine.Training;

/// <summary>
/// The backward pass is right: the reference's analytic gradients equal central finite
/// differences of the whole network's loss, and the kernels' float gradients equal the reference's.
/// </summary>
public sealed class GradientCheckTests
{
    // Three narrow hidden layers: every kind of layer (the first, fed by pixels; middle ones, fed
    // and followed by ReLUs; the output) is checked, and the double-precision loops stay fast.
    private static readonly NetworkShape Shape = new(784, [32, 24, 16], 10);
    private const int Batch = 16;

    [Fact]
    public void Reference_gradients_equal_finite_differences_of_the_loss()
    {
        using var reference = new ReferenceBackend();
        using var probe = new Probe(reference);
        probe.ComputeGradients();
        var analytic = ReferenceBackend.Span(probe.Network.Gradients).ToArray();
        var parameters = ReferenceBackend.Span(probe.Network.Parameters);

        FiniteDifferences.Expect(parameters, probe.ReferenceLoss, analytic, SampledParameters(new Random(7)), h: 1e-5, absolute: 1e-8, relative: 1e-5, clearAbove: 1e-4, minimumClear: 20, index => $"parameter {index}");
    }

    [Fact]
    public void Kernel_gradients_equal_reference_gradients()
    {
        using var reference = new ReferenceBackend();
        using var device = IlgpuBackend.CreateCpuAccelerator();
        using var onReference = new Probe(reference);
        using var onDevice = new Probe(device);

        onReference.ComputeGradients();
        onDevice.ComputeGradients();

        var result = new Comparison("gradients", $"{Shape}, 16 digits", 1e-6, 1e-4)
            .Compare("gradients", ReferenceBackend.Span(onReference.Network.Gradients), onDevice.Network.GetGradients())
            .Result();
        Assert.True(result.Passed, result.ToString());
    }

    /// <summary>Weights and biases of every layer, at random.</summary>
    private static IEnumerable<int> SampledParameters(Random random)
    {
        var first = Shape.DenseLayers[0];
        for (int i = 0; i < 12; i++)
        {
            // Weights of pixels near the centre, which are ink in most digits.
            int pixel = 14 * 28 + 7 + random.Next(14);
            yield return first.WeightOffset + pixel * first.Outputs + random.Next(first.Outputs);
        }

        for (int i = 0; i < 6; i++)
            yield return first.BiasOffset + random.Next(first.Outputs);
        foreach (var layer in Shape.DenseLayers.Skip(1))
        {
            for (int i = 0; i < 8; i++)
                yield return layer.WeightOffset + random.Next(layer.WeightCount);
            for (int i = 0; i < 4; i++)
                yield return layer.BiasOffset + random.Next(layer.Outputs);
        }
    }

    /// <summary>A network with Glorot weights and small random biases, holding 16 test digits as its batch.</summary>
    private sealed class Probe : IDisposable
    {
        private readonly DeviceArray<float> losses;
        private readonly DeviceArray<int> predictions;

        public Probe(ITrainingBackend backend)
        {
            Network = new Network(backend, Shape, Batch, optimizerStateArrays: 0);
            var parameters = InitialWeights.Of(Shape, seed: 11);
            var random = new Random(3);
            foreach (var layer in Shape.DenseLayers)
            {
                for (int i = 0; i < layer.Outputs; i++)
                    parameters[layer.BiasOffset + i] = (float)(random.NextDouble() * 0.2 - 0.1);
            }

            Network.SetParameters(parameters);
            var test = Bundled.Mnist.Test;
            backend.Upload<float>(test.Images[..(Batch * 784)].Select(p => p / 255f).ToArray(), Network.Input);
            backend.Upload<int>(test.Labels[..Batch].Select(l => (int)l).ToArray(), Network.Labels);
            losses = backend.Allocate<float>(Batch);
            predictions = backend.Allocate<int>(Batch);
        }

        public Network Network { get; }

        public void ComputeGradients() => Network.ComputeGradients(Batch, new SampleOutputs(losses, predictions, 0), StepContext.ForTraining(1, 1));

        /// <summary>Forward and backward on the reference; returns the batch-mean loss in double precision.</summary>
        public double ReferenceLoss()
        {
            ComputeGradients();
            return ReferenceBackend.Span(losses).ToArray().Average();
        }

        public void Dispose()
        {
            losses.Dispose();
            predictions.Dispose();
            Network.Dispose();
        }
    }
}
