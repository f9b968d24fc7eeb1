using MnistGpu.Engine.Model;
using MnistGpu.Engine.Model.Layers;
using MnistGpu.Engine.Reference;

namespace MnistGpu.Engine.Training;

/// <summary>One picture of what the first layer saw: a unit's weights, or a feature map, with its share of the answer.</summary>
/// <param name="Index">The unit's or the feature map's number in the first layer, from 0.</param>
/// <param name="Contribution">A unit's activation × the gradient of the answer's logit with respect to it; 0 for a feature map.</param>
/// <param name="Values">Row-major, <see cref="FirstLayerExplanation.Width"/> × <see cref="FirstLayerExplanation.Height"/>.</param>
public sealed record FirstLayerPicture(int Index, double Contribution, float[] Values);

/// <summary>
/// Why the network answered as it did, seen at its first layer. A dense first layer: the units
/// that pushed the answer's logit up most — each unit's activation times the gradient of that
/// logit with respect to it, through the dense layers above (for the seed network simply the
/// activation times the unit's weight to the answer) — each pictured by its input weights. A
/// convolution (or pooling) first: its feature maps for this picture.
/// </summary>
public sealed record FirstLayerExplanation(string Kind, int Width, int Height, IReadOnlyList<FirstLayerPicture> Pictures)
{
    /// <summary>How many units a dense first layer shows.</summary>
    public const int UnitsShown = 8;

    public const string Units = "units";
    public const string FeatureMaps = "featureMaps";
    public const string None = "none";

    /// <summary>What <see cref="Of"/> gives for networks of <paramref name="shape"/>: <see cref="Units"/>, <see cref="FeatureMaps"/> or <see cref="None"/>.</summary>
    public static string KindOf(NetworkShape shape) => shape.Layers[0] switch
    {
        DenseLayerShape { Input.Layout: FeatureLayout.Image } when shape.Layers.All(l => l is DenseLayerShape) => Units,
        { Output.Layout: FeatureLayout.Maps } => FeatureMaps,
        _ => None,
    };

    /// <summary>The explanation of the network's answer to one image, from one forward pass.</summary>
    /// <param name="pixels">One image's 28×28 pixels in [0,1], as the network takes them.</param>
    /// <param name="probabilities">The network's class probabilities for it, from the same pass.</param>
    public static FirstLayerExplanation Of(TrainedNetwork network, ReadOnlySpan<float> pixels, out float[] probabilities)
    {
        var shape = network.Network.Shape;
        var output = network.FirstLayerOutput(pixels, out probabilities);
        int answer = Math.Max(0, Array.IndexOf(probabilities, probabilities.Max()));
        return KindOf(shape) switch
        {
            Units => DenseUnits(shape, network.Checkpoint.Parameters, output, answer),
            FeatureMaps => Maps(shape.Layers[0].Output, output),
            _ => new FirstLayerExplanation(None, 0, 0, []),
        };
    }

    private static FirstLayerExplanation Maps(FeatureShape maps, float[] output)
    {
        int positions = maps.Height * maps.Width;
        var pictures = Enumerable.Range(0, maps.Channels).Select(f =>
        {
            var values = new float[positions];
            for (int p = 0; p < positions; p++)
                values[p] = output[p * maps.Channels + f];
            return new FirstLayerPicture(f, 0, values);
        }).ToList();
        return new FirstLayerExplanation(FeatureMaps, maps.Width, maps.Height, pictures);
    }

    /// <summary>The reference's dense forward from the first layer's output, then its input gradients from the answer's logit back down.</summary>
    private static FirstLayerExplanation DenseUnits(NetworkShape shape, float[] parameters, float[] hidden, int answer)
    {
        var layers = shape.Layers.Cast<DenseLayerShape>().ToList();
        // The layers above the first: its own weights are only pictured, never multiplied here.
        var weights = layers.Select((l, i) => i == 0 ? [] : Doubles(parameters, l.WeightOffset, l.WeightCount)).ToList();
        var outputs = new List<double[]> { Doubles(hidden, 0, hidden.Length) };
        for (int l = 1; l < layers.Count; l++)
        {
            var layer = layers[l];
            var y = new double[layer.Outputs];
            ReferenceMath.DenseForward(outputs[^1], weights[l], Doubles(parameters, layer.BiasOffset, layer.Outputs), y, 1, layer.Inputs, layer.Outputs, layer.Relu);
            outputs.Add(y);
        }

        var gradient = new double[layers[^1].Outputs];
        gradient[answer] = 1;
        for (int l = layers.Count - 1; l >= 1; l--)
        {
            var below = new double[layers[l].Inputs];
            ReferenceMath.DenseBackwardInput(gradient, weights[l], outputs[l - 1], below, 1, layers[l].Inputs, layers[l].Outputs, layers[l - 1].Relu);
            gradient = below;
        }

        var first = layers[0];
        var pictures = Enumerable.Range(0, first.Outputs)
            .Select(unit => (Unit: unit, Contribution: outputs[0][unit] * gradient[unit]))
            .OrderByDescending(u => u.Contribution)
            .ThenBy(u => u.Unit)
            .Take(UnitsShown)
            .Select(u =>
            {
                var unitWeights = new float[first.Inputs];
                for (int i = 0; i < first.Inputs; i++)
                    unitWeights[i] = parameters[first.WeightOffset + i * first.Outputs + u.Unit];
                return new FirstLayerPicture(u.Unit, u.Contribution, unitWeights);
            })
            .ToList();
        return new FirstLayerExplanation(Units, first.Input.Width, first.Input.Height, pictures);
    }

    private static double[] Doubles(float[] values, int start, int count) => Array.ConvertAll(values[start..(start + count)], v => (double)v);
}
