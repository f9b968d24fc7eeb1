using System.Globalization;
using System.Text;
using MnistGpu.Engine.Model.Layers;

namespace MnistGpu.Engine.Model;

/// <summary>One row of a network's summary, as Keras' <c>model.summary()</c> prints it.</summary>
/// <param name="Name">Keras' name for the layer: its type in snake case, numbered from the second of a type on ("conv2d_1").</param>
/// <param name="Type">Keras' class for the layer, e.g. "Conv2D".</param>
/// <param name="OutputShape">"(None, 26, 26, 32)": the batch, then height, width and channels, or the values of a flat row.</param>
/// <param name="Parameters">Values the layer keeps, as Keras counts them: its trained parameters and its untrained state (a BatchNormalization's moving statistics).</param>
/// <param name="NonTrainable">Of those, the untrained ones (<see cref="Layer.StateCount"/>).</param>
public sealed record LayerSummary(string Name, string Type, string OutputShape, long Parameters, long NonTrainable = 0);

/// <summary>
/// A network described as Keras' <c>model.summary()</c> does: a row per layer (name and type,
/// output shape, parameters), then the totals and what the parameters take in float32. The
/// command line's <c>summary</c>, report.html and serve's page all show this.
/// </summary>
public sealed class NetworkSummary
{
    private NetworkSummary(NetworkShape shape)
    {
        Shape = shape;
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        Layers = shape.Layers.Select(layer =>
        {
            string type = layer.Kind.TypeName;
            int seen = counts.GetValueOrDefault(type);
            counts[type] = seen + 1;
            string name = SnakeCase(type) + (seen == 0 ? "" : $"_{seen}");
            return new LayerSummary(name, type, Shaped(layer.Output), layer.ParameterCount + layer.StateCount, layer.StateCount);
        }).ToList();
    }

    public NetworkShape Shape { get; }

    /// <summary>Every layer, input side first; the last is the softmax output layer.</summary>
    public IReadOnlyList<LayerSummary> Layers { get; }

    public long TotalParameters => Layers.Sum(layer => layer.Parameters);

    /// <summary>What the parameters take as float32.</summary>
    public long ParameterBytes => 4 * TotalParameters;

    /// <summary>The untrained ones among <see cref="TotalParameters"/>.</summary>
    public long NonTrainableParameters => Layers.Sum(layer => layer.NonTrainable);

    /// <exception cref="UserInputException">The shape is not a network this engine can build.</exception>
    public static NetworkSummary Of(NetworkShape shape)
    {
        shape.Validate();
        return new NetworkSummary(shape);
    }

    /// <summary>"364.54 KB": bytes in Keras' units (B, KB, MB, GB of 1,024).</summary>
    public static string Size(long bytes)
    {
        string[] units = ["B", "KB", "MB", "GB", "TB"];
        double value = bytes;
        int unit = 0;
        while (value >= 1024 && unit < units.Length - 1)
        {
            value /= 1024;
            unit++;
        }

        return string.Create(CultureInfo.InvariantCulture, $"{value:F2} {units[unit]}");
    }

    /// <summary>The totals under the table, as Keras words them.</summary>
    public IReadOnlyList<string> Totals =>
    [
        string.Create(CultureInfo.InvariantCulture, $"Total params: {TotalParameters:N0} ({Size(ParameterBytes)})"),
        string.Create(CultureInfo.InvariantCulture, $"Trainable params: {TotalParameters - NonTrainableParameters:N0} ({Size(4 * (TotalParameters - NonTrainableParameters))})"),
        string.Create(CultureInfo.InvariantCulture, $"Non-trainable params: {NonTrainableParameters:N0} ({Size(4 * NonTrainableParameters)})"),
    ];

    private static string Shaped(FeatureShape shape) => shape.Layout == FeatureLayout.Flat
        ? string.Create(CultureInfo.InvariantCulture, $"(None, {shape.Channels})")
        : string.Create(CultureInfo.InvariantCulture, $"(None, {shape.Height}, {shape.Width}, {shape.Channels})");

    /// <summary>"MaxPooling2D" → "max_pooling2d", as Keras names layers.</summary>
    private static string SnakeCase(string type)
    {
        var name = new StringBuilder(type.Length + 4);
        for (int i = 0; i < type.Length; i++)
        {
            if (char.IsUpper(type[i]) && i > 0 && char.IsLower(type[i - 1]))
                name.Append('_');
            name.Append(char.ToLowerInvariant(type[i]));
        }

        return name.ToString();
    }
}
