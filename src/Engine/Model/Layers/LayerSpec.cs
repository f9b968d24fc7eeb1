using System.Text.Json;
using System.Text.Json.Serialization;

namespace MnistGpu.Engine.Model.Layers;

/// <summary>
/// One hidden layer as a user writes it: a kind and its argument ("512" is a dense layer of 512
/// units). A plain number converts to a dense spec, so <c>Layers = [64, 32]</c> stays a dense
/// stack. In JSON (checkpoints, reports) a dense spec is its width, any other its text.
/// </summary>
[JsonConverter(typeof(LayerSpecJsonConverter))]
public readonly record struct LayerSpec(ILayerKind Kind, string Argument)
{
    public static implicit operator LayerSpec(int width) => Dense.Spec(width);

    /// <summary>The dense width a spec names, or null for another kind or a malformed width.</summary>
    public int? DenseWidth => Kind is Dense && Dense.TryWidth(Argument, out int width) ? width : null;

    /// <summary>
    /// "512" (dense), or a registered kind's name and its argument: "maxpool", "scale",
    /// "conv3x3:32" (the name is the leading letters; one ':' after them is dropped).
    /// </summary>
    /// <exception cref="UserInputException">No registered kind has that name, or the argument is not the kind's.</exception>
    public static LayerSpec Parse(string text)
    {
        text = text.Trim();
        if (text.Length > 0 && char.IsAsciiDigit(text[0]))
            return Dense.TryWidth(text, out int width) ? Dense.Spec(width) : new LayerSpec(Dense.Kind, text);
        int letters = 0;
        while (letters < text.Length && char.IsAsciiLetter(text[letters]))
            letters++;
        var kind = LayerKinds.Find(text[..letters]) ?? throw new UserInputException($"'{text}' is not a layer: a width, or one of {string.Join(", ", LayerKinds.All.Select(k => k.Name))}");
        string argument = text[letters..];
        return new LayerSpec(kind, argument.StartsWith(':') ? argument[1..] : argument);
    }

    /// <summary>Specs separated by commas, as <c>--layers</c> writes them: "conv3x3:32,maxpool,flatten,64".</summary>
    /// <exception cref="UserInputException">One of them does not parse (<see cref="Parse"/>).</exception>
    public static LayerSpec[] ParseList(string text) => text.Split(',').Select(Parse).ToArray();

    public override string ToString() => Kind.Format(Argument);

    public bool Equals(LayerSpec other) => ReferenceEquals(Kind, other.Kind) && Argument == other.Argument;

    public override int GetHashCode() => HashCode.Combine(Kind.Name, Argument);
}

/// <summary>A dense spec as its width (the checkpoint format's numbers); any other as its text.</summary>
public sealed class LayerSpecJsonConverter : JsonConverter<LayerSpec>
{
    public override LayerSpec Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType == JsonTokenType.Number)
            return reader.GetInt32();
        try
        {
            return LayerSpec.Parse(reader.GetString() ?? throw new JsonException("a layer is a width or a spec"));
        }
        catch (UserInputException e)
        {
            throw new JsonException(e.Message, e);
        }
    }

    public override void Write(Utf8JsonWriter writer, LayerSpec value, JsonSerializerOptions options)
    {
        if (value.DenseWidth is int width && value.Argument == width.ToString(System.Globalization.CultureInfo.InvariantCulture))
            writer.WriteNumberValue(width);
        else
            writer.WriteStringValue(value.ToString());
    }
}
