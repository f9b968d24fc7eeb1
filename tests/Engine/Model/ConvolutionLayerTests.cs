using MnistGpu.Engine;
using MnistGpu.Engine.Backends;
using MnistGpu.Engine.Model;
using MnistGpu.Engine.Model.Layers;
using MnistGpu.Engine.Reference;
using MnistGpu.Tests.Support;

namespace MnistGpu.Tests.Engine.Model;

/// <summary>
/// Conv2D, MaxPool2D and Flatten: their shapes and specs, the reference's backward through all
/// three against finite differences of the loss, and the host's and the CPU accelerator's
/// gradients against the reference's.
/// </summary>
public sealed class ConvolutionLayerTests
{
    // Both paddings, a linear convolution (its gradient unmasked) below a ReLU one, an even kernel
    // with Keras' asymmetric 'same' padding, a pooling of an odd size (a dropped row and column).
    private static readonly NetworkShape Small = new(784, Specs("conv3x3:4,maxpool,conv2x2:3:same:linear,conv3x3:5,maxpool,flatten,8"), 10);
    private const int Batch = 6;

    private static LayerSpec[] Specs(string text) => LayerSpec.ParseList(text);

    [Fact]
    public void The_keras_convnet_has_keras_shapes_and_parameter_count()
    {
        var shape = new NetworkShape(784, Specs("conv3x3:32,maxpool,conv3x3:64,maxpool,conv3x3:64,flatten,64"), 10);
        shape.Validate();
        Assert.Equal(
            ["conv 28x28x1->26x26x32", "maxpool 26x26x32->13x13x32", "conv 13x13x32->11x11x64", "maxpool 11x11x64->5x5x64", "conv 5x5x64->3x3x64", "flatten 3x3x64->576", "dense 576->64", "dense 64->10"],
            shape.Layers.Select(layer => layer.ToString()));
        // Keras' model.summary(): 320 + 18,496 + 36,928 + 36,928 + 650.
        Assert.Equal(93_322, shape.ParameterCount);
        Assert.Equal("784-conv3x3:32-maxpool-conv3x3:64-maxpool-conv3x3:64-flatten-64-10", shape.ToString());
        Assert.Equal("kernel [2, 1, 31, 7]", shape.Layers[2].Locate((((2 * 3) + 1) * 32 + 31) * 64 + 7));
    }

    [Theory]
    [InlineData("conv3x3:8,flatten,conv3x3:4,16", "not the 5408 flat values")]
    [InlineData("32,conv3x3:4,flatten", "not the 32 flat values")]
    [InlineData("conv29x29:4,flatten", "a 29x29 kernel is larger than its 28x28x1 input")]
    [InlineData("conv3x3:8,maxpool,maxpool,maxpool,maxpool,maxpool,flatten", "a 2x2 pooling of a 1x1x8 input would leave less than 1x1")]
    [InlineData("conv3x3:0,flatten", "at least 1 filter")]
    [InlineData("conv3x3:8", "a dense layer after 26x26x8 feature maps needs a flatten before it")]
    [InlineData("conv3x3:8,64", "needs a flatten before it")]
    [InlineData("conv3x3:2000000000:same,flatten", "more values per image than one array holds")]
    [InlineData("conv3x3:3000000:same,flatten", "more values per image than one array holds")]
    public void A_spec_that_cannot_be_a_network_is_refused_before_anything_is_allocated(string spec, string message)
    {
        var error = Assert.Throws<UserInputException>(() => new NetworkShape(784, Specs(spec), 10).Validate());
        Assert.Contains(message, error.Message);
    }

    [Theory]
    [InlineData("conv3x3", "conv<k>x<k>:<filters>")]
    [InlineData("conv3x4:8", "conv<k>x<k>:<filters>")]
    [InlineData("conv3x3:8:diagonal", "conv<k>x<k>:<filters>")]
    [InlineData("conv3x3:eight", "conv<k>x<k>:<filters>")]
    [InlineData("maxpool3x3", "max pooling is 2x2")]
    [InlineData("flatten:2", "flatten takes no argument")]
    [InlineData("pool", "is not a layer")]
    public void A_spec_a_kind_cannot_read_is_refused_in_one_line(string spec, string message)
    {
        var error = Assert.Throws<UserInputException>(() => new NetworkShape(784, Specs(spec), 10));
        Assert.Contains(message, error.Message);
        Assert.DoesNotContain('\n', error.Message);
    }

    [Fact]
    public void Specs_read_back_as_written()
    {
        foreach (string text in new[] { "conv3x3:32", "conv5x5:16:same:linear", "conv2x2:3:same", "maxpool", "flatten", "64" })
            Assert.Equal(text, LayerSpec.Parse(text).ToString());
        Assert.Equal("conv3x3:8", new NetworkShape(784, Specs("conv3x3:8:valid:relu,flatten"), 10).Layers[0].Spec.ToString());
    }

    [Fact]
    public void Reference_gradients_through_convolution_pooling_and_flatten_equal_finite_differences()
    {
        using var reference = new ReferenceBackend();
        using var probe = new LossProbe(reference, Small, Batch, Parameters(seed: 3));
        var random = new Random(11);
        var indices = Small.Layers.Where(layer => layer.ParameterCount > 0)
            .SelectMany(layer => Enumerable.Range(0, 12).Select(_ => layer.Offset + random.Next((int)layer.ParameterCount)))
            .ToList();
        probe.ExpectFiniteDifferences(indices, h: 1e-5, absolute: 1e-8, relative: 1e-4, clearAbove: 1e-5, minimumClear: 30);
    }

    public static TheoryData<string> Devices => new(["host", "cpu"]);

    [Theory]
    [MemberData(nameof(Devices))]
    public void Device_gradients_equal_the_references(string device)
    {
        using var reference = new ReferenceBackend();
        using ITrainingBackend backend = device == "host" ? new MnistGpu.Engine.Backends.Host.HostBackend() : IlgpuBackend.CreateCpuAccelerator();
        using var onReference = new LossProbe(reference, Small, Batch, Parameters(seed: 3));
        using var onDevice = new LossProbe(backend, Small, Batch, Parameters(seed: 3));
        var expected = onReference.Gradients();
        var actual = onDevice.Gradients();
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(actual[i] - expected[i]) <= 1e-5 + 1e-3 * Math.Abs(expected[i]), $"{Small.Locate(i)}: {device} {actual[i]:E6}, reference {expected[i]:E6}");
    }

    /// <summary>
    /// Glorot weights with nonzero biases: with Keras' zero biases, every blank patch sits on the
    /// ReLU's kink, where finite differences see half a slope.
    /// </summary>
    private static float[] Parameters(int seed)
    {
        var parameters = InitialWeights.Of(Small, seed);
        var random = new Random(seed);
        foreach (var layer in Small.Layers.Where(layer => layer.ParameterCount > 0))
        {
            for (int i = layer.Offset + (int)layer.ParameterCount - layer.Output.Channels; i < layer.Offset + layer.ParameterCount; i++)
                parameters[i] = (float)(random.NextDouble() * 0.2 - 0.1);
        }

        return parameters;
    }
}
