using System.Numerics;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace MnistGpu.Runner;

internal static class Json
{
    /// <summary>
    /// The one JSON style of every file the runner writes: indented, camelCase, and readable
    /// characters (·, ᵀ, →) written as themselves rather than escaped. A number that is not
    /// finite (an accuracy of no samples, a loss that overflowed) is written as null, which JSON
    /// has, instead of failing the write.
    /// </summary>
    public static JsonSerializerOptions Options { get; } = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        Converters = { new FiniteOrNull<double>(), new FiniteOrNull<float>() },
    };

    private sealed class FiniteOrNull<T> : JsonConverter<T>
        where T : struct, IFloatingPoint<T>
    {
        public override bool HandleNull => false;

        public override T Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
            throw new NotSupportedException("the runner only writes JSON");

        public override void Write(Utf8JsonWriter writer, T value, JsonSerializerOptions options)
        {
            if (!T.IsFinite(value))
                writer.WriteNullValue();
            else if (value is double d)
                writer.WriteNumberValue(d);
            else
                writer.WriteNumberValue(float.CreateTruncating(value));
        }
    }
}
