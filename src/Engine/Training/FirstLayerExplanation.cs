using MnistGpu.Engine.Model;
using MnistGpu.Engine.Model.Layers;

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

    /// <param name="pixels">One image's 28×28 pixels in [0,1], as the network takes them.</param>
    /// <param name="answer">The class whose logit the units are measured against: the prediction.</param>
    public static FirstLayerExplanation Of(TrainedNetwork network, ReadOnlySpan<float> pixels, int answer)
    {
        var shape = network.Network.Shape;
        var first = shape.Layers[0];
        var output = network.FirstLayerOutput(pixels);
        return first switch
        {
            DenseLayerShape { Input.Layout: FeatureLayout.Image } when shape.Layers.All(l => l is DenseLayerShape)
                => DenseUnits(shape, network.Checkpoint.Parameters, output, answer),
            { Output.Layout: FeatureLayout.Maps } => Maps(first.Output, output),
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

    private static FirstLayerExplanation DenseUnits(NetworkShape shape, float[] parameters, float[] hidden, int answer)
    {
        var layers = shape.Layers.Cast<DenseLayerShape>().ToList();

        // Forward from the first layer's output, keeping each layer's output for the ReLU masks.
        var outputs = new List<double[]> { hidden.Select(v => (double)v).ToArray() };
        for (int l = 1; l < layers.Count; l++)
        {
            var layer = layers[l];
            var x = outputs[^1];
            var y = new double[layer.Outputs];
            for (int o = 0; o < layer.Outputs; o++)
            {
                double sum = parameters[layer.BiasOffset + o];
                for (int i = 0; i < layer.Inputs; i++)
                    sum += x[i] * parameters[layer.WeightOffset + i * layer.Outputs + o];
                y[o] = layer.Relu ? Math.Max(sum, 0) : sum;
            }

            outputs.Add(y);
        }

        // Backward from the answer's logit down to the first layer's output.
        var gradient = new double[layers[^1].Outputs];
        gradient[answer] = 1;
        for (int l = layers.Count - 1; l >= 1; l--)
        {
            var layer = layers[l];
            var below = new double[layer.Inputs];
            for (int i = 0; i < layer.Inputs; i++)
            {
                if (layers[l - 1].Relu && outputs[l - 1][i] <= 0)
                    continue;
                double sum = 0;
                for (int o = 0; o < layer.Outputs; o++)
                    sum += parameters[layer.WeightOffset + i * layer.Outputs + o] * gradient[o];
                below[i] = sum;
            }

            gradient = below;
        }

        var first = layers[0];
        int side = first.Input.Height;
        var pictures = Enumerable.Range(0, first.Outputs)
            .Select(unit => (Unit: unit, Contribution: outputs[0][unit] * gradient[unit]))
            .OrderByDescending(u => u.Contribution)
            .ThenBy(u => u.Unit)
            .Take(UnitsShown)
            .Select(u =>
            {
                var weights = new float[first.Inputs];
                for (int i = 0; i < first.Inputs; i++)
                    weights[i] = parameters[first.WeightOffset + i * first.Outputs + u.Unit];
                return new FirstLayerPicture(u.Unit, u.Contribution, weights);
            })
            .ToList();
        return new FirstLayerExplanation(Units, first.Input.Width, side, pictures);
    }
}
