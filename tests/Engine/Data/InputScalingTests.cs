using MnistGpu.Engine;
using MnistGpu.Engine.Data;
using MnistGpu.Tests.Support;

namespace MnistGpu.Tests.Engine.Data;

/// <summary>--standardize's statistics, and the unit scaling that leaves every other network as it was.</summary>
public sealed class InputScalingTests
{
    [Fact]
    public void Mnist_s_training_set_standardizes_with_the_published_mean_and_deviation()
    {
        var scaling = InputScaling.Standardizing(Bundled.Mnist.Train);
        // PyTorch's MNIST recipes use 0.1307 and 0.3081, computed the same way.
        Assert.Equal(0.1307, scaling.Mean, 4);
        Assert.Equal(0.3081, scaling.Deviation, 4);
        Assert.False(scaling.IsUnit);
    }

    [Fact]
    public void Scaling_applies_the_kernels_formula_and_the_unit_scaling_changes_no_bit()
    {
        var pixels = Enumerable.Range(0, 256).Select(b => b / 255f).ToArray();
        var unit = pixels.ToArray();
        InputScaling.Unit.ApplyInPlace(unit);
        Assert.Equal(pixels, unit);

        var scaling = new InputScaling(0.1307f, 0.3081f);
        var scaled = pixels.ToArray();
        scaling.ApplyInPlace(scaled);
        for (int b = 0; b < 256; b++)
        {
            Assert.Equal(((b / 255f) - 0.1307f) * (1f / 0.3081f), scaled[b]);
            Assert.Equal(scaling.Apply(b), scaled[b], 1e-5);
        }
    }

    [Fact]
    public void A_set_whose_pixels_never_vary_cannot_be_standardized()
    {
        var blank = new LabeledImages("blank", new byte[4 * 9], new byte[4], 3, 3);
        Assert.Equal("--standardize needs pixels that vary, but every pixel of the blank set is 0", Assert.Throws<UserInputException>(() => InputScaling.Standardizing(blank)).Message);
        Assert.Throws<UserInputException>(() => new InputScaling(0f, 0f));
        Assert.Throws<UserInputException>(() => new InputScaling(float.NaN, 1f));
    }
}
