namespace MnistGpu.Engine.Model;

/// <summary>Keras' default initialisation, layer by layer as each kind does it: Glorot-uniform weights, zero biases.</summary>
internal static class GlorotUniform
{
    /// <summary>A flat parameter array for <paramref name="shape"/>, reproducible from <paramref name="seed"/>.</summary>
    public static float[] Initialize(NetworkShape shape, int seed)
    {
        var parameters = new float[shape.ParameterCount];
        var random = new Random(seed);
        foreach (var layer in shape.Layers)
            layer.Initialize(parameters.AsSpan(layer.Offset, (int)layer.ParameterCount), random);
        return parameters;
    }
}
