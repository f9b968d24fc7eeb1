using MnistGpu.Engine.Backends.Host;
using MnistGpu.Engine.Model;
using MnistGpu.Engine.Model.Layers;
using MnistGpu.Engine.Training;
using MnistGpu.Tests.Support;

namespace MnistGpu.Tests.Engine.Training;

/// <summary>What serve's page shows of the first layer, against a plain computation of the same.</summary>
public sealed class FirstLayerExplanationTests
{
    [Fact]
    public void The_seed_shape_s_units_are_ranked_by_activation_times_their_weight_to_the_answer()
    {
        var checkpoint = SmallModel.Checkpoint;
        using var device = new HostBackend(threads: 1);
        using var network = new TrainedNetwork(device, checkpoint);
        var pixels = Pixels(0);
        var hidden = network.FirstLayerOutput(pixels);
        var output = (DenseLayerShape)checkpoint.Shape.Layers[1];
        int answer = ArgMax(network.Probabilities(pixels));

        var explanation = FirstLayerExplanation.Of(network, pixels, out var probabilities);

        Assert.Equal(network.Probabilities(pixels), probabilities);
        var expected = Enumerable.Range(0, hidden.Length)
            .Select(j => (Unit: j, Contribution: hidden[j] * (double)checkpoint.Parameters[output.WeightOffset + j * output.Outputs + answer]))
            .OrderByDescending(u => u.Contribution).Take(8).ToList();
        Assert.Equal(FirstLayerExplanation.Units, explanation.Kind);
        Assert.Equal((28, 28), (explanation.Width, explanation.Height));
        Assert.Equal(expected.Select(u => u.Unit), explanation.Pictures.Select(p => p.Index));
        foreach (var (picture, unit) in explanation.Pictures.Zip(expected))
        {
            Assert.Equal(unit.Contribution, picture.Contribution, 1e-9);
            var first = (DenseLayerShape)checkpoint.Shape.Layers[0];
            Assert.Equal(Enumerable.Range(0, 784).Select(i => checkpoint.Parameters[first.WeightOffset + i * first.Outputs + unit.Unit]), picture.Values);
        }
    }

    /// <summary>Through three dense layers: each contribution is the activation times the logit's derivative, checked by finite differences.</summary>
    [Fact]
    public void A_deeper_stack_s_contributions_are_activation_times_the_logit_s_gradient()
    {
        var checkpoint = SmallModel.Deeper;
        using var device = new HostBackend(threads: 1);
        using var network = new TrainedNetwork(device, checkpoint);
        var pixels = Pixels(1);
        var hidden = network.FirstLayerOutput(pixels).Select(v => (double)v).ToArray();
        int answer = ArgMax(network.Probabilities(pixels));

        var explanation = FirstLayerExplanation.Of(network, pixels, out _);

        Assert.Equal(8, explanation.Pictures.Count);
        Assert.True(explanation.Pictures[0].Contribution > 0);
        foreach (var picture in explanation.Pictures)
        {
            const double Step = 1e-6;
            var up = (double[])hidden.Clone();
            var down = (double[])hidden.Clone();
            up[picture.Index] += Step;
            down[picture.Index] -= Step;
            double derivative = (Logit(checkpoint, up, answer) - Logit(checkpoint, down, answer)) / (2 * Step);
            Assert.Equal(hidden[picture.Index] * derivative, picture.Contribution, 1e-6);
        }
    }

    [Fact]
    public void A_convnet_shows_its_first_layer_s_feature_maps()
    {
        var checkpoint = SmallModel.Convnet;
        using var device = new HostBackend(threads: 1);
        using var network = new TrainedNetwork(device, checkpoint);
        var pixels = Pixels(2);
        var maps = network.FirstLayerOutput(pixels);

        var explanation = FirstLayerExplanation.Of(network, pixels, out _);

        var shape = checkpoint.Shape.Layers[0].Output;
        Assert.Equal(FirstLayerExplanation.FeatureMaps, explanation.Kind);
        Assert.Equal((shape.Width, shape.Height, shape.Channels), (explanation.Width, explanation.Height, explanation.Pictures.Count));
        for (int f = 0; f < shape.Channels; f++)
            Assert.Equal(Enumerable.Range(0, shape.Height * shape.Width).Select(p => maps[p * shape.Channels + f]), explanation.Pictures[f].Values);
    }

    /// <summary>The answer's logit from the first layer's output, by the dense layers above it, in double precision.</summary>
    private static double Logit(Checkpoint checkpoint, double[] hidden, int answer)
    {
        var x = hidden;
        foreach (var layer in checkpoint.Shape.Layers.Skip(1).Cast<DenseLayerShape>())
        {
            var y = new double[layer.Outputs];
            for (int o = 0; o < layer.Outputs; o++)
            {
                double sum = checkpoint.Parameters[layer.BiasOffset + o];
                for (int i = 0; i < layer.Inputs; i++)
                    sum += x[i] * checkpoint.Parameters[layer.WeightOffset + i * layer.Outputs + o];
                y[o] = layer.Relu ? Math.Max(sum, 0) : sum;
            }

            x = y;
        }

        return x[answer];
    }

    private static float[] Pixels(int index) => Enumerable.Range(0, 784).Select(i => Bundled.Mnist.Test.Images[index * 784 + i] / 255f).ToArray();

    private static int ArgMax(float[] values) => Array.IndexOf(values, values.Max());
}
