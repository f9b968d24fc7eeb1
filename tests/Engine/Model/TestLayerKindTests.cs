using MnistGpu.Engine.Backends;
using MnistGpu.Engine.Model;
using MnistGpu.Engine.Model.Layers;
using MnistGpu.Engine.Reference;
using MnistGpu.Engine.Steps;
using MnistGpu.Engine.Training;
using MnistGpu.Tests.Support;

namespace MnistGpu.Tests.Engine.Model;

/// <summary>
/// A layer kind is a unit: one defined and registered here, in the test assembly, trains through
/// the composed runner, keeps state that training does not train, saves and loads, with nothing
/// in Training/, Runner/ or the checkpoint code knowing of it.
/// </summary>
public sealed class TestLayerKindTests
{
    static TestLayerKindTests() => LayerKinds.Register(Scale.Kind);

    [Fact]
    public void A_layer_kind_registered_by_the_tests_trains_through_the_composed_runner()
    {
        var settings = new TrainingSettings { Layers = [32, LayerSpec.Parse("scale")], Epochs = 3, BatchSize = 32 };
        using var backend = IlgpuBackend.CreateCpuAccelerator();
        using var trainer = new Trainer(backend, Bundled.Mnist.Train.Take(2_000), settings);
        using (var runner = StepRunners.For(trainer.Network))
            Assert.IsType<ComposedSteps>(runner);
        Assert.Equal("784-32-scale-10", trainer.Network.Shape.ToString());

        var first = trainer.TrainEpoch();
        trainer.TrainEpoch();
        var third = trainer.TrainEpoch();
        var test = trainer.Evaluate(Bundled.Mnist.Test.Take(500));
        // Its state counts the training steps it saw from its initial 7: 63 steps an epoch; evaluation adds none.
        Assert.Equal([7f + (3 * 63)], trainer.Network.GetState());

        Assert.True(third.Loss < first.Loss, $"loss {first.Loss}, two epochs later {third.Loss}");
        Assert.True(test.Accuracy > 0.8, $"test accuracy {test.Accuracy}");
        var scaleLayer = trainer.Network.Shape.Layers[1];
        var learned = trainer.Network.GetParameters().AsSpan(scaleLayer.Offset, (int)scaleLayer.ParameterCount).ToArray();
        Assert.Contains(learned[..32], s => s != 1f);
        Assert.Contains(learned[32..], t => t != 0f);

        string path = Path.Combine(Path.GetTempPath(), $"mnistgpu-scale-{Environment.ProcessId}.ckpt");
        try
        {
            trainer.CreateCheckpoint().Save(path);
            var loaded = Checkpoint.Load(path);
            Assert.Equal(trainer.Network.Shape, loaded.Shape);
            Assert.Equal(trainer.Network.GetParameters(), loaded.Parameters);
            Assert.Equal(trainer.Network.GetState(), loaded.LayerState);
            using var resumed = new Trainer(backend, Bundled.Mnist.Train.Take(2_000), loaded, 4);
            Assert.Equal(loaded.LayerState, resumed.Network.GetState());
            resumed.TrainEpoch();
            Assert.Equal([7f + (4 * 63)], resumed.Network.GetState());
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void The_test_kinds_backward_equals_finite_differences_of_the_loss()
    {
        var shape = new NetworkShape(784, [12, LayerSpec.Parse("scale"), 8], 10);
        var parameters = InitialWeights.Of(shape, seed: 5);
        var scaleLayer = shape.Layers[1];
        var random = new Random(4);
        for (int i = 0; i < scaleLayer.ParameterCount; i++)
            parameters[scaleLayer.Offset + i] += (float)(random.NextDouble() * 0.4 - 0.2);
        using var reference = new ReferenceBackend();
        using var probe = new LossProbe(reference, shape, batch: 16, parameters);
        probe.ExpectFiniteDifferences(Enumerable.Range(scaleLayer.Offset, (int)scaleLayer.ParameterCount), h: 1e-3, absolute: 2e-4, relative: 0.02, clearAbove: 2e-3, minimumClear: 6);
    }

    /// <summary>
    /// y = x ⊙ s + t per unit (then the ReLU every hidden layer has): s (I) starting at 1, t (I)
    /// at 0. Computed on the host through downloads and uploads, so it runs on any backend.
    /// </summary>
    private sealed class Scale : ILayerKind
    {
        public static Scale Kind { get; } = new();

        public string Name => "scale";

        public string TypeName => "Scale";

        public Layer Create(string argument, FeatureShape input, long offset) =>
            argument.Length == 0 ? new ScaleShape((int)input.Size, offset) : throw new MnistGpu.Engine.UserInputException($"a scale layer takes no argument, not '{argument}'");

        public string Format(string argument) => Name;
    }

    private sealed class ScaleShape(int units, long offset) : Layer(Scale.Kind, FeatureShape.Flat(units), FeatureShape.Flat(units), offset)
    {
        public override long ParameterCount => 2L * Inputs;

        /// <summary>One value, untrained: the training steps its forward has seen, from 7.</summary>
        public override int StateCount => 1;

        public override void InitializeState(Span<float> state) => state[0] = 7;

        public override LayerSpec Spec => new(Scale.Kind, "");

        public override void Initialize(Span<float> parameters, Random random, Initializer initializer)
        {
            parameters[..Inputs].Fill(1f);
            parameters[Inputs..].Clear();
        }

        public override string Locate(int index) => index < Inputs ? $"scale [{index}]" : $"shift [{index - Inputs}]";

        public override LayerOnDevice Bind(ITrainingBackend backend, LayerArrays arrays) =>
            new ScaleOnDevice(Inputs, backend.Slice(arrays.Parameters, Offset, 2 * Inputs), backend.Slice(arrays.Gradients, Offset, 2 * Inputs), arrays.Output, arrays.OutputGradient, arrays.State!);
    }

    private sealed class ScaleOnDevice(int units, DeviceArray<float> parameters, DeviceArray<float> gradients, DeviceArray<float> output, DeviceArray<float> outputGradient, DeviceArray<float> state)
        : LayerOnDevice(output, outputGradient)
    {
        public override void Forward(ITrainingBackend backend, DeviceArray<float> x, int batch, bool relu, StepContext context)
        {
            if (context.Training)
                backend.Upload<float>([Read(backend, state, 1)[0] + 1], state);

            var (input, p) = (Read(backend, x, batch * units), Read(backend, parameters, 2 * units));
            var y = new float[Output.Length];
            for (int i = 0; i < batch * units; i++)
            {
                float value = input[i] * p[i % units] + p[units + i % units];
                y[i] = relu ? Math.Max(value, 0f) : value;
            }

            backend.Upload<float>(y, Output);
        }

        public override void BackwardParameters(ITrainingBackend backend, DeviceArray<float> x, int batch, StepContext context)
        {
            var (input, dy) = (Read(backend, x, batch * units), Read(backend, OutputGradient, batch * units));
            var g = new float[2 * units];
            for (int i = 0; i < batch * units; i++)
            {
                g[i % units] += dy[i] * input[i];
                g[units + i % units] += dy[i];
            }

            backend.Upload<float>(g, gradients);
        }

        public override void BackwardInput(ITrainingBackend backend, DeviceArray<float> activation, DeviceArray<float> dx, int batch, bool relu, StepContext context)
        {
            var (dy, below, p) = (Read(backend, OutputGradient, batch * units), Read(backend, activation, batch * units), Read(backend, parameters, 2 * units));
            var result = new float[dx.Length];
            for (int i = 0; i < batch * units; i++)
                result[i] = !relu || below[i] > 0 ? dy[i] * p[i % units] : 0f;
            backend.Upload<float>(result, dx);
        }

        private static float[] Read(ITrainingBackend backend, DeviceArray<float> array, int length)
        {
            var all = new float[array.Length];
            backend.Download(array, all);
            return all[..length];
        }
    }
}
