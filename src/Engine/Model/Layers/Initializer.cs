namespace MnistGpu.Engine.Model.Layers;

/// <summary>How a new run draws the weights and biases of its dense layers and convolutions.</summary>
public enum Initializer
{
    /// <summary>Keras' default (<c>glorot-uniform</c>): weights U(±√(6 / (fan in + fan out))), biases 0.</summary>
    GlorotUniform,

    /// <summary>PyTorch's default for Linear and Conv2d (<c>fan-in-uniform</c>): weights, then biases, U(±1 / √fan in).</summary>
    FanInUniform,
}

/// <summary>How a layer's weights and biases are drawn as an <see cref="Initializer"/> says, and the initializers' names.</summary>
public static class Initialization
{
    /// <summary>The names --initializer takes, in <see cref="Initializer"/>'s order.</summary>
    public static IReadOnlyList<string> Names { get; } = ["glorot-uniform", "fan-in-uniform"];

    public static string Name(this Initializer initializer) => Names[(int)initializer];

    /// <exception cref="UserInputException">Not one of <see cref="Names"/>.</exception>
    public static Initializer Parse(string name)
    {
        int index = Names.ToList().IndexOf(name);
        return index >= 0 ? (Initializer)index : throw new UserInputException($"--initializer takes {string.Join(" or ", Names)}, got '{name}'");
    }

    /// <summary>A layer's <paramref name="weights"/> and <paramref name="biases"/>, drawn in that order from <paramref name="random"/>.</summary>
    internal static void Fill(Span<float> weights, Span<float> biases, int fanIn, int fanOut, Random random, Initializer initializer)
    {
        if (initializer == Initializer.GlorotUniform)
        {
            Uniform(weights, Math.Sqrt(6.0 / ((double)fanIn + fanOut)), random);
            biases.Clear();
            return;
        }

        double limit = 1 / Math.Sqrt(fanIn);
        Uniform(weights, limit, random);
        Uniform(biases, limit, random);
    }

    private static void Uniform(Span<float> values, double limit, Random random)
    {
        for (int i = 0; i < values.Length; i++)
            values[i] = (float)((random.NextDouble() * 2 - 1) * limit);
    }
}
