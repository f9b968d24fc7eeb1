using MnistGpu.Engine;
using MnistGpu.Engine.Model;
using MnistGpu.Engine.Model.Layers;

namespace MnistGpu.Tests.Engine.Model;

/// <summary>The two initializers draw what their names promise, layer by layer.</summary>
public sealed class InitializerTests
{
    private static readonly NetworkShape Speedrun = new(784, LayerSpec.ParseList("conv5x5:24,maxpool,conv3x3:32,maxpool,flatten,256"), 10);

    [Fact]
    public void Fan_in_uniform_draws_weights_and_biases_across_plus_or_minus_one_over_the_root_of_the_fan_in()
    {
        var parameters = InitialWeights.Of(Speedrun, seed: 3, Initializer.FanInUniform);
        foreach (var (offset, weights, biases, fanIn, _) in Trained(Speedrun))
        {
            double bound = 1 / Math.Sqrt(fanIn);
            foreach (var (start, count) in new[] { (offset, weights), (offset + weights, biases) })
            {
                var values = parameters.AsSpan(start, count);
                Assert.All(values.ToArray(), value => Assert.InRange(Math.Abs(value), 0, bound));
                // Spread over the whole range, both signs: not zeros, not a constant and (where there
                // are enough values for it to be all but certain) not a narrower draw.
                var drawn = values.ToArray();
                double reach = count >= 200 ? 0.9 * bound : 0;
                Assert.True(drawn.Max() > reach && drawn.Min() < -reach, $"layer at {start}: values in [{drawn.Min()}, {drawn.Max()}], bound {bound}");
            }
        }
    }

    [Fact]
    public void Glorot_uniform_keeps_zero_biases_and_the_glorot_bound()
    {
        var parameters = InitialWeights.Of(Speedrun, seed: 3, Initializer.GlorotUniform);
        foreach (var (offset, weights, biases, fanIn, fanOut) in Trained(Speedrun))
        {
            double bound = Math.Sqrt(6.0 / (fanIn + fanOut));
            var drawn = parameters.AsSpan(offset, weights).ToArray();
            Assert.All(drawn, value => Assert.InRange(Math.Abs(value), 0, bound));
            Assert.True(drawn.Max() > 0.9 * bound, $"weights at {offset} reach {drawn.Max()}, bound {bound}");
            Assert.All(parameters.AsSpan(offset + weights, biases).ToArray(), value => Assert.Equal(0f, value));
        }
    }

    [Fact]
    public void The_initializers_are_named_as_the_command_line_writes_them_and_nothing_else_parses()
    {
        Assert.Equal(Initializer.FanInUniform, Initialization.Parse("fan-in-uniform"));
        Assert.Equal("glorot-uniform", Initializer.GlorotUniform.Name());
        Assert.Equal("--initializer takes glorot-uniform or fan-in-uniform, got 'he-normal'", Assert.Throws<UserInputException>(() => Initialization.Parse("he-normal")).Message);
    }

    /// <summary>Each dense layer's and convolution's parameter offset, weight and bias counts, fan-in and fan-out.</summary>
    private static IEnumerable<(int Offset, int Weights, int Biases, int FanIn, int FanOut)> Trained(NetworkShape shape)
    {
        foreach (var layer in shape.Layers)
        {
            if (layer is DenseLayerShape dense)
                yield return (dense.Offset, dense.WeightCount, dense.Outputs, dense.Inputs, dense.Outputs);
            else if (layer is Conv2DLayerShape conv)
                yield return (conv.Offset, (int)conv.ParameterCount - conv.Filters, conv.Filters, conv.KernelSize * conv.KernelSize * conv.Input.Channels, conv.KernelSize * conv.KernelSize * conv.Filters);
        }
    }
}
