namespace MnistGpu.Engine.Model;

/// <summary>Keras' default initialisation: weights ~ U(−l, l) with l = √(6 / (fan_in + fan_out)), biases 0.</summary>
internal static class GlorotUniform
{
    /// <summary>A flat parameter array for <paramref name="shape"/>, reproducible from <paramref name="seed"/>.</summary>
    public static float[] Initialize(NetworkShape shape, int seed)
    {
        var parameters = new float[shape.ParameterCount];
        var random = new Random(seed);
        foreach (var layer in shape.Layers)
        {
            double limit = Math.Sqrt(6.0 / (layer.Inputs + layer.Outputs));
            var weights = parameters.AsSpan(layer.WeightOffset, layer.WeightCount);
            for (int i = 0; i < weights.Length; i++)
                weights[i] = (float)((random.NextDouble() * 2 - 1) * limit);
        }

        return parameters;
    }
}
