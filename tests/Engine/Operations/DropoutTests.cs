using MnistGpu.Engine.Backends;
using MnistGpu.Engine.Backends.Host;
using MnistGpu.Engine.Model.Layers;
using MnistGpu.Engine.Operations.Dropout;
using MnistGpu.Engine.Reference;
using MnistGpu.Engine.Training;
using MnistGpu.Kernels;
using MnistGpu.Tests.Kernels;
using MnistGpu.Tests.Support;

namespace MnistGpu.Tests.Engine.Operations;

/// <summary>
/// Dropout trains as Keras' does and draws the same on every device: its masks agree across
/// backends, a seeded run repeats to the bit and resumes to the bit, it changes training (a mask
/// that does nothing fails), and outside training it is the identity. Its kept fraction and scale
/// are verify's rows, run on every device by <see cref="KernelAgreementTests"/>.
/// </summary>
[Collection(OpenClRuntime.Name)]
public sealed class DropoutTests(OpenClFixture openCl)
{
    private static readonly TrainingSettings Settings = new() { Layers = Specs("512,dropout:0.5"), Seed = 5 };
    private static readonly MnistGpu.Engine.Data.LabeledImages Subset = Bundled.Mnist.Train.Take(2_000);

    [SkippableTheory]
    [InlineData("host")]
    [InlineData("cpu")]
    [InlineData("opencl")]
    public void A_rerun_and_a_resume_after_epoch_1_give_the_same_parameter_bits(string device)
    {
        var make = CpuTraining.Device(device, openCl);
        var straight = CpuTraining.Train(Subset, Settings, epochs: 2, from: null, make);
        var again = CpuTraining.Train(Subset, Settings, epochs: 2, from: null, make);
        var resumed = CpuTraining.Train(Subset, Settings, epochs: 2, Checkpoint.Decode(CpuTraining.Train(Subset, Settings, epochs: 1, from: null, make).Encode()), make);
        var undropped = CpuTraining.Train(Subset, Settings with { Layers = Specs("512,dropout:0") }, epochs: 2, from: null, make);

        Assert.Equal(straight.Parameters, again.Parameters);
        Assert.Equal(straight.Parameters, resumed.Parameters);
        Assert.Equal(straight.OptimizerState, resumed.OptimizerState);
        Assert.NotEqual(straight.Parameters, undropped.Parameters);
    }

    [SkippableFact]
    public void Every_device_drops_the_same_elements_and_keeps_one_minus_the_rate()
    {
        const int length = 100_000;
        const double rate = 0.3;
        uint key = DropoutMask.Key(seed: 11, step: 123_456_789_012, position: 2);
        var masks = new List<bool[]>();
        foreach (string device in new[] { "reference", "host", "cpu", "opencl" })
        {
            if (device == "opencl" && openCl.Backend is null)
                continue;
            using var backend = device == "reference" ? new ReferenceBackend() : CpuTraining.Device(device, openCl)();
            using var ones = backend.Allocate<float>(length);
            using var result = backend.Allocate<float>(length);
            backend.Upload<float>(Enumerable.Repeat(1f, length).ToArray(), ones);
            backend.Run(new DropoutOperation { Rate = rate, Backward = false, Source = ones, Activation = ones, Target = result, Length = length, Key = key });
            var values = new float[length];
            backend.Download(result, values);
            Assert.All(values, v => Assert.True(v == 0f || Math.Abs(v - 1 / (1 - rate)) < 1e-6, $"{device}: {v} is neither 0 nor 1/(1 - rate)"));
            masks.Add(Array.ConvertAll(values, v => v != 0f));
        }

        Assert.All(masks, mask => Assert.Equal(masks[0], mask));
        Assert.InRange(masks[0].Count(kept => kept) / (double)length, 1 - rate - 0.01, 1 - rate + 0.01);
        Assert.NotEqual(masks[0], Mask(DropoutMask.Key(seed: 11, step: 123_456_789_013, position: 2), rate, length));
        Assert.NotEqual(masks[0], Mask(DropoutMask.Key(seed: 11, step: 123_456_789_012, position: 3), rate, length));
    }

    [Fact]
    public void Outside_training_a_dropout_is_the_identity_and_inside_it_is_not()
    {
        using var backend = new HostBackend();
        var layer = (DropoutLayerShape)Dropout.Kind.Create("0.5", FeatureShape.Flat(1_000), offset: 0);
        using var none = backend.Allocate<float>(1);
        using var x = backend.Allocate<float>(2_000);
        using var y = backend.Allocate<float>(2_000);
        using var dy = backend.Allocate<float>(2_000);
        var onDevice = layer.Bind(backend, new LayerArrays(none, none, y, dy, none, Position: 1));
        var input = Enumerable.Range(1, 2_000).Select(i => (float)i).ToArray();
        backend.Upload<float>(input, x);

        onDevice.Forward(backend, x, batch: 2, relu: false, StepContext.Inference);
        Assert.Equal(input, Read(backend, y));

        onDevice.Forward(backend, x, batch: 2, relu: false, StepContext.ForTraining(step: 1, seed: 1));
        var trained = Read(backend, y);
        Assert.Contains(0f, trained);
        Assert.All(trained.Select((v, i) => (v, i)), p => Assert.True(p.v == 0f || p.v == 2 * input[p.i]));
    }

    [Theory]
    [InlineData("512,dropout:1", "from 0 up to (not including) 1, not 1")]
    [InlineData("512,dropout:-0.1", "not -0.1")]
    [InlineData("512,dropout:x", "as in 'dropout:0.5', not 'dropout:x'")]
    [InlineData("512,dropout", "as in 'dropout:0.5', not 'dropout'")]
    [InlineData("512,dropout:0.5:0.2", "not 'dropout:0.5:0.2'")]
    public void A_bad_rate_is_one_line_and_exit_2_before_any_device_opens(string layers, string expected)
    {
        var (code, output, error) = CliRun.Run(["train", "--device", "cuda", "--layers", layers]);
        Assert.Equal(2, code);
        Assert.Equal("", output);
        Assert.Single(error.TrimEnd('\n').Split('\n'));
        Assert.StartsWith("mnistgpu: ", error);
        Assert.Contains(expected, error);
    }

    private static bool[] Mask(uint key, double rate, int length) =>
        Enumerable.Range(0, length).Select(i => DropoutMask.Keeps(key, i, DropoutMask.Threshold(rate))).ToArray();

    private static float[] Read(HostBackend backend, DeviceArray<float> array)
    {
        var values = new float[array.Length];
        backend.Download(array, values);
        return values;
    }

    private static LayerSpec[] Specs(string layers) => LayerSpec.ParseList(layers);
}
