using System.Text.Encodings.Web;
using System.Text.Json;

namespace MnistGpu.Runner;

internal static class Json
{
    /// <summary>
    /// The one JSON style of every file the runner writes: indented, camelCase, and readable
    /// characters (·, ᵀ, →) written as themselves rather than escaped.
    /// </summary>
    public static JsonSerializerOptions Options { get; } = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };
}
