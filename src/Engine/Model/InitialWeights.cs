using MnistGpu.Engine.Model.Layers;

namespace MnistGpu.Engine.Model;

/// <summary>A new network's parameters, layer by layer as each kind lays them out and draws them.</summary>
internal static class InitialWeights
{
    /// <summary>A flat parameter array for <paramref name="shape"/>, reproducible from <paramref name="seed"/>.</summary>
    public static float[] Of(NetworkShape shape, int seed, Initializer initializer = Initializer.GlorotUniform)
    {
        var parameters = new float[shape.ParameterCount];
        var random = new Random(seed);
        foreach (var layer in shape.Layers)
            layer.Initialize(parameters.AsSpan(layer.Offset, (int)layer.ParameterCount), random, initializer);
        return parameters;
    }
}
