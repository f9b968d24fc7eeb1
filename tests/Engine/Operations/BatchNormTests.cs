using MnistGpu.Engine.Backends;
using MnistGpu.Engine.Backends.Host;
using MnistGpu.Engine.Model;
using MnistGpu.Engine.Model.Layers;
using MnistGpu.Engine.Operations.BatchNormalization;
using MnistGpu.Engine.Reference;
using MnistGpu.Engine.Training;
using MnistGpu.Tests.Kernels;
using MnistGpu.Tests.Support;

namespace MnistGpu.Tests.Engine.Operations;

/// <summary>
/// BatchNormalization follows Keras 3's rule and agrees across devices: the moving statistics
/// after a step are what the rule computes by hand, inference reads them, every device's
/// parameters and moving statistics after two steps agree with the double-precision reference,
/// and a seeded run repeats and resumes to the bit. Each pass is also verify's rows, run on every
/// device by <see cref="KernelAgreementTests"/>.
/// </summary>
[Collection(OpenClRuntime.Name)]
public sealed class BatchNormTests(OpenClFixture openCl)
{
    private static readonly MnistGpu.Engine.Data.LabeledImages Subset = Bundled.Mnist.Train.Take(2_000);

    [Fact]
    public void One_training_forward_moves_the_statistics_as_keras_3_does_and_inference_reads_them()
    {
        // Two features over four rows: means 2.5 and −1, biased variances 1.25 and 0.5.
        float[] x = [1, -1, 2, -2, 3, 0, 4, -1];
        using var backend = new ReferenceBackend();
        var layer = (BatchNormLayerShape)BatchNormalization.Kind.Create("", FeatureShape.Flat(2), offset: 0);
        using var parameters = backend.Allocate<float>(4);
        using var gradients = backend.Allocate<float>(4);
        using var state = backend.Allocate<float>(layer.StateCount);
        using var saved = backend.Allocate<float>(layer.SavedCount);
        using var scratch = backend.Allocate<float>(16);
        using var input = backend.Allocate<float>(8);
        using var output = backend.Allocate<float>(8);
        using var outputGradient = backend.Allocate<float>(8);
        var initial = new float[4];
        layer.Initialize(initial, new Random(1), Initializer.GlorotUniform);
        backend.Upload<float>(initial, parameters);
        var initialState = new float[4];
        layer.InitializeState(initialState);
        Assert.Equal([0f, 0f, 1f, 1f], initialState);
        backend.Upload<float>(initialState, state);
        backend.Upload<float>(x, input);
        var onDevice = layer.Bind(backend, new LayerArrays(parameters, gradients, output, outputGradient, scratch, Position: 0) { State = state, Saved = saved });

        onDevice.Forward(backend, input, batch: 4, relu: false, StepContext.ForTraining(1, 1));
        var moving = ReferenceBackend.Span(state).ToArray();
        double[] expected = [0.01 * 2.5, 0.01 * -1, (0.99 * 1) + (0.01 * 1.25), (0.99 * 1) + (0.01 * 0.5)];
        for (int i = 0; i < 4; i++)
            Assert.Equal(expected[i], moving[i], 6);
        var y = ReferenceBackend.Span(output).ToArray();
        Assert.Equal((1 - 2.5) / Math.Sqrt(1.25 + 1e-3), y[0], 5);

        onDevice.Forward(backend, input, batch: 4, relu: false, StepContext.Inference);
        y = ReferenceBackend.Span(output).ToArray();
        Assert.Equal((1 - moving[0]) / Math.Sqrt(moving[2] + 1e-3), y[0], 5);
        Assert.Equal(moving, ReferenceBackend.Span(state).ToArray());
    }

    /// <summary>The backward through the batch's statistics (the layer's own γ and β, and the dense layer below it, whose gradient flows through dx) equals finite differences of the training loss.</summary>
    [Theory]
    [InlineData("12,batchnorm,8")]
    [InlineData("conv3x3:3:linear,batchnorm:relu,maxpool,flatten,8")]
    public void The_backward_equals_finite_differences_of_the_training_loss(string layers)
    {
        var shape = new NetworkShape(784, Specs(layers), 10);
        var parameters = InitialWeights.Of(shape, seed: 5);
        var random = new Random(4);
        var norm = shape.Layers.OfType<BatchNormLayerShape>().Single();
        for (int i = 0; i < norm.ParameterCount; i++)
            parameters[norm.Offset + i] += (float)((random.NextDouble() * 0.4) - 0.2);
        using var reference = new ReferenceBackend();
        using var probe = new LossProbe(reference, shape, batch: 16, parameters);
        var below = shape.Layers[0];
        var checkedParameters = Enumerable.Range(norm.Offset, (int)norm.ParameterCount).Concat(Enumerable.Range(below.Offset, (int)below.ParameterCount).Where(i => i % 7 == 0));
        probe.ExpectFiniteDifferences(checkedParameters, h: 1e-5, absolute: 2e-4, relative: 0.02, clearAbove: 2e-3, minimumClear: 6);
    }

    [SkippableTheory]
    [InlineData("64,batchnorm:relu,32,batchnorm")]
    [InlineData("conv3x3:4:linear,batchnorm:relu,maxpool,flatten,16")]
    public void After_two_steps_every_device_agrees_with_the_reference_within_1e_5(string layers)
    {
        // SGD: a convolution's bias before a BatchNormalization has a gradient of exactly 0 in
        // exact arithmetic, and Adam's g/√v would turn float rounding there into a full step.
        var settings = new TrainingSettings { Layers = Specs(layers), Seed = 7, Optimizer = OptimizerSettings.Sgd with { Momentum = 0.9f } };
        var subset = Subset.Take(200);
        var reference = CpuTraining.Train(subset, settings, epochs: 1, from: null, () => new ReferenceBackend());
        foreach (string device in new[] { "host", "cpu", "opencl" })
        {
            if (device == "opencl" && openCl.Backend is null)
                continue;
            var trained = CpuTraining.Train(subset, settings, epochs: 1, from: null, CpuTraining.Device(device, openCl));
            AssertClose(device, "parameter", reference.Parameters, trained.Parameters);
            AssertClose(device, "moving statistic", reference.LayerState, trained.LayerState);
        }
    }

    [SkippableTheory]
    [InlineData("host")]
    [InlineData("cpu")]
    [InlineData("opencl")]
    public void A_rerun_and_a_resume_after_epoch_1_give_the_same_bits(string device)
    {
        var settings = new TrainingSettings { Layers = Specs("conv3x3:4:linear,batchnorm:relu,maxpool,flatten,dropout:0.3,16,batchnorm"), Seed = 2 };
        var subset = Subset.Take(640);
        var make = CpuTraining.Device(device, openCl);
        var straight = CpuTraining.Train(subset, settings, epochs: 2, from: null, make);
        var again = CpuTraining.Train(subset, settings, epochs: 2, from: null, make);
        var resumed = CpuTraining.Train(subset, settings, epochs: 2, Checkpoint.Decode(CpuTraining.Train(subset, settings, epochs: 1, from: null, make).Encode()), make);

        Assert.Equal(straight.Parameters, again.Parameters);
        Assert.Equal(straight.LayerState, again.LayerState);
        Assert.Equal(straight.Parameters, resumed.Parameters);
        Assert.Equal(straight.LayerState, resumed.LayerState);
        Assert.Contains(straight.LayerState, value => value is not (0f or 1f));
    }

    /// <summary>
    /// Layers keep their operations from step to step (a dropout only changes its key), so a warm
    /// host epoch allocates next to nothing (four channels are not whole vectors: the convnet's
    /// sums take the scalar form, whose buffers are pooled). The convnet's 63 steps allocated 29 KB
    /// with those buffers made per pass.
    /// </summary>
    [Theory]
    [InlineData("64,batchnorm:relu,32,batchnorm,dropout:0.3")]
    [InlineData("conv3x3:4:linear,batchnorm:relu,maxpool,flatten,dropout:0.3,16")]
    public void A_warm_host_epoch_makes_no_operation_anew(string layers)
    {
        using var backend = new HostBackend();
        using var trainer = new Trainer(backend, Subset, new TrainingSettings { Layers = Specs(layers), BatchSize = 32, Epochs = 2 });
        trainer.TrainEpoch();
        long before = GC.GetAllocatedBytesForCurrentThread();
        trainer.TrainEpoch();
        Assert.InRange(GC.GetAllocatedBytesForCurrentThread() - before, 0, 16 << 10);
    }

    [Theory]
    [InlineData("512,batchnorm:tanh", "batchnorm takes nothing or ':relu' (a ReLU after it), not 'batchnorm:tanh'")]
    [InlineData("batchnorm,512", "batchnorm normalises a layer's outputs: put it after a dense layer or a convolution, not first")]
    public void A_bad_spec_is_one_line_and_exit_2_before_any_device_opens(string layers, string expected)
    {
        var (code, output, error) = CliRun.Run(["train", "--device", "cuda", "--layers", layers]);
        Assert.Equal((2, ""), (code, output));
        Assert.Single(error.TrimEnd('\n').Split('\n'));
        Assert.Contains(expected, error);
    }

    /// <summary>
    /// Within 1e-5 relative to the array's largest magnitude: a value whose exact gradient is 0 (a
    /// convolution's bias before a BatchNormalization) is float rounding of a cancelling sum, so
    /// only a norm-wise bound is meaningful there.
    /// </summary>
    private static void AssertClose(string device, string what, float[] expected, float[] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        double scale = expected.Max(Math.Abs);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(actual[i] - expected[i]) <= 1e-5 * scale, $"{device}: {what} {i} is {actual[i]}, reference {expected[i]} (largest {scale})");
    }

    private static LayerSpec[] Specs(string layers) => LayerSpec.ParseList(layers);
}
