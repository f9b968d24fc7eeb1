using MnistGpu.Engine.Backends;
using MnistGpu.Engine.Model.Layers;

namespace MnistGpu.Engine.Verification;

/// <summary>
/// The convolution's, pooling's and flatten's checks: each product on the implicit form or the
/// unrolled composition, against the reference.
/// </summary>
public sealed partial class DeviceVerifier
{
    private CheckResult ConvolutionForward(ConvolutionCase s, bool relu)
    {
        var random = new Random(s.Height * 7 + s.Channels * 13 + s.Filters + (s.Same ? 1 : 0));
        var (layer, scratch) = Convolution(random, s);
        var x = pair.Both(Uniform(random, s.Batch * s.Height * s.Width * s.Channels));
        var y = pair.Zeros<float>(s.Batch * layer.Device.Shape.Positions * s.Filters);

        device.ConvolutionForward(layer.Device, x.Device, y.Device, scratch.Device, s.Batch, relu);
        reference.ConvolutionForward(layer.Reference, x.Reference, y.Reference, scratch.Reference, s.Batch, relu);

        var actual = pair.Actual(y.Device);
        return new Comparison(relu ? "conv forward+relu" : "conv forward", s.ToString(), MatMulAbsolute, MatMulRelative)
            .Compare("y", pair.Expected(y.Reference), actual)
            .Require(!relu || actual.All(v => v >= 0f), "a ReLU output is negative")
            .Result();
    }

    private CheckResult ConvolutionBackwardInput(ConvolutionCase s, bool relu)
    {
        var random = new Random(s.Height * 5 + s.Channels * 11 + s.Filters + (s.Same ? 1 : 0));
        var (layer, scratch) = Convolution(random, s);
        int inputs = s.Batch * s.Height * s.Width * s.Channels;
        var dy = pair.Both(Uniform(random, s.Batch * layer.Device.Shape.Positions * s.Filters));
        var activation = pair.Both(Uniform(random, inputs).Select(v => Math.Max(v, 0f)).ToArray());
        var dx = pair.Zeros<float>(inputs);

        device.ConvolutionBackwardInput(layer.Device, dy.Device, activation.Device, dx.Device, scratch.Device, s.Batch, relu);
        reference.ConvolutionBackwardInput(layer.Reference, dy.Reference, activation.Reference, dx.Reference, scratch.Reference, s.Batch, relu);

        return new Comparison(relu ? "conv backward input+relu mask" : "conv backward input", s.ToString(), MatMulAbsolute, MatMulRelative)
            .Compare("dx", pair.Expected(dx.Reference), pair.Actual(dx.Device))
            .Result();
    }

    private CheckResult ConvolutionBackwardParameters(ConvolutionCase s)
    {
        var random = new Random(s.Height * 3 + s.Channels * 17 + s.Filters + (s.Same ? 1 : 0));
        var (gradients, scratch) = Convolution(random, s);
        var x = pair.Both(Uniform(random, s.Batch * s.Height * s.Width * s.Channels));
        var dy = pair.Both(Uniform(random, s.Batch * gradients.Device.Shape.Positions * s.Filters));

        device.ConvolutionBackwardParameters(gradients.Device, x.Device, dy.Device, scratch.Device, s.Batch);
        reference.ConvolutionBackwardParameters(gradients.Reference, x.Reference, dy.Reference, scratch.Reference, s.Batch);

        return new Comparison("conv backward parameters", s.ToString(), MatMulAbsolute, MatMulRelative)
            .Compare("dK", pair.Expected(gradients.Reference.Matrix.Weights), pair.Actual(gradients.Device.Matrix.Weights))
            .Compare("db", pair.Expected(gradients.Reference.Matrix.Bias), pair.Actual(gradients.Device.Matrix.Bias))
            .Result();
    }

    private ((ConvolutionParameters Device, ConvolutionParameters Reference) Layer, (DeviceArray<float> Device, DeviceArray<float> Reference) Scratch) Convolution(
        Random random, ConvolutionCase s)
    {
        var shape = new Conv2DLayerShape(new FeatureShape(s.Height, s.Width, s.Channels, FeatureLayout.Maps), s.Kernel, s.Filters, s.Same, relu: true, offset: 0);
        var parameters = pair.Both(Uniform(random, (int)shape.ParameterCount));
        var scratch = pair.Zeros<float>((int)(s.Batch * shape.ScratchPerRow));
        return ((shape.Within(device, parameters.Device, s.Algorithm), shape.Within(reference, parameters.Reference)), scratch);
    }

    /// <summary>
    /// How far the implicit convolutions may be from the unrolled ones after a few steps: not at
    /// all on panels, which sum in the same order; float rounding, grown over the steps, on tiles.
    /// </summary>
    private double ConvolutionFormTolerance =>
        device is IlgpuBackend { Launches.ConvolutionLayout: KernelLayout.Tiled } ? 1e-4 : 0;

    /// <summary>A convolution check's geometry — a batch of (height, width, channels) maps, a k×k kernel of some filters, 'same' or 'valid' — and the algorithm the device runs it with.</summary>
    private readonly record struct ConvolutionCase(int Batch, int Height, int Width, int Channels, int Kernel, int Filters, bool Same, ConvolutionAlgorithm Algorithm = ConvolutionAlgorithm.Implicit)
    {
        /// <summary>What the check's name adds for the algorithm: nothing for the implicit products, " unrolled" for the composition.</summary>
        public string Form => Algorithm == ConvolutionAlgorithm.Implicit ? "" : " unrolled";

        /// <summary>What <see cref="VerifierCheck.LargestDimension"/> says: the larger of the map area and the kernel matrix's rows.</summary>
        public int Largest => Math.Max(Height * Width, Kernel * Kernel * Math.Max(Channels, Filters));

        /// <summary>e.g. "2x13x13x32 3x3:64", "3x9x7x2 3x3:5 same": the check's shape, as its name says it.</summary>
        public override string ToString() => $"{Batch}x{Height}x{Width}x{Channels} {Kernel}x{Kernel}:{Filters}{(Same ? " same" : "")}";
    }
}
