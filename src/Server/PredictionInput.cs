using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Net.Http.Headers;
using MnistGpu.Engine;
using MnistGpu.Reports.Imaging;

namespace MnistGpu.Server;

/// <summary>
/// What a prediction request's body says: a picture (PNG, JPEG, BMP, GIF) made into the network's
/// input as <c>predict</c> makes it, or the input's values as JSON. Every refusal is a status and a
/// one-line message; nothing here touches the device.
/// </summary>
internal static class PredictionInput
{
    /// <summary>The largest request body read: a drawn digit's PNG is a few kilobytes.</summary>
    public const int MaxBodyBytes = 1 << 20;

    /// <summary>
    /// The largest picture decoded, a side: the page sends 280×280, and a picture of 1024×1024
    /// decodes in tens of milliseconds into a few megabytes (<c>predict</c> keeps its own, larger
    /// bound for photos from a phone).
    /// </summary>
    public const int MaxPictureSide = 1024;

    private static readonly string[] PictureTypes = ["image/png", "image/jpeg", "image/bmp", "image/gif"];

    public static readonly string TooLarge = $"the body is larger than {MaxBodyBytes / 1024:N0} KiB";

    /// <summary>Whether the content type is one this server reads, or the 415 that refuses it.</summary>
    public static Refusal? CheckType(HttpRequest request, int inputs)
    {
        if (request.ContentLength > MaxBodyBytes)
            return new(StatusCodes.Status413PayloadTooLarge, TooLarge);
        string mediaType = MediaType(request);
        return mediaType is "application/json" or Multipart || PictureTypes.Contains(mediaType)
            ? null
            : new(StatusCodes.Status415UnsupportedMediaType, $"content type '{mediaType}' is not accepted: send a picture ({string.Join(", ", PictureTypes)}), a {Multipart} upload of one, or application/json with {inputs} values in [0, 1]");
    }

    /// <summary>The body, or null when it is longer than <see cref="MaxBodyBytes"/>.</summary>
    /// <exception cref="OperationCanceledException"><paramref name="cancel"/> ended the read.</exception>
    public static async Task<byte[]?> ReadBody(HttpRequest request, CancellationToken cancel)
    {
        using var body = new MemoryStream();
        var buffer = new byte[16 << 10];
        int read;
        while ((read = await request.Body.ReadAsync(buffer, cancel).ConfigureAwait(false)) > 0)
        {
            if (body.Length + read > MaxBodyBytes)
                return null;
            body.Write(buffer, 0, read);
        }

        return body.ToArray();
    }

    /// <summary>The network's input from a body already read, or the refusal.</summary>
    /// <exception cref="UserInputException">The values or the picture cannot be the input (a 400).</exception>
    public static async Task<(Refusal? Refusal, float[]? Input)> From(HttpRequest request, byte[] body, int inputs)
    {
        if (body.Length == 0)
            return (new(StatusCodes.Status400BadRequest, "the body is empty"), null);
        string mediaType = MediaType(request);
        if (mediaType == "application/json")
            return (null, Values(body, inputs));
        if (mediaType == Multipart)
            body = await FirstFile(request.ContentType!, body).ConfigureAwait(false);
        if (inputs != DigitImage.Side * DigitImage.Side)
            return (new(StatusCodes.Status400BadRequest, $"the model takes {inputs} values; pictures are made into {DigitImage.Side}x{DigitImage.Side}"), null);
        if (DigitImage.SizeOf(body) is { } size && (size.Width > MaxPictureSide || size.Height > MaxPictureSide))
            return (new(StatusCodes.Status413PayloadTooLarge, $"the picture is {size.Width}x{size.Height}; this server takes pictures up to {MaxPictureSide}x{MaxPictureSide}"), null);
        return (null, DigitImage.Decode("the picture", body, MaxPictureSide));
    }

    /// <summary>
    /// The first part of a multipart/form-data body that is a file (has a file name), whatever
    /// its field's name: what <c>curl -F file=@digit.png</c> and an HTML form send.
    /// </summary>
    /// <exception cref="UserInputException">No boundary, no file part, or a malformed body.</exception>
    private static async Task<byte[]> FirstFile(string contentType, byte[] body)
    {
        string boundary = MediaTypeHeaderValue.TryParse(contentType, out var type) ? HeaderUtilities.RemoveQuotes(type.Boundary).Value ?? "" : "";
        if (boundary.Length == 0)
            throw new UserInputException($"a {Multipart} body needs its boundary in the content type");
        var reader = new MultipartReader(boundary, new MemoryStream(body, writable: false)) { BodyLengthLimit = MaxBodyBytes };
        try
        {
            while (await reader.ReadNextSectionAsync().ConfigureAwait(false) is { } section)
            {
                if (!ContentDispositionHeaderValue.TryParse(section.ContentDisposition, out var disposition) || !disposition.IsFileDisposition())
                    continue;
                using var file = new MemoryStream();
                await section.Body.CopyToAsync(file).ConfigureAwait(false);
                return file.ToArray();
            }
        }
        catch (Exception e) when (e is IOException or InvalidDataException)
        {
            throw new UserInputException($"the {Multipart} body is malformed: {e.Message}");
        }

        throw new UserInputException($"the {Multipart} body has no file part: send the picture as a file (curl -F file=@digit.png)");
    }

    private const string Multipart = "multipart/form-data";

    private static string MediaType(HttpRequest request) => (request.ContentType ?? "").Split(';')[0].Trim().ToLowerInvariant();

    /// <summary>A JSON array of <paramref name="inputs"/> numbers in [0, 1], or an object holding one as "input" (and no key twice).</summary>
    /// <exception cref="UserInputException">Anything else.</exception>
    private static float[] Values(byte[] body, int inputs)
    {
        JsonElement root;
        try
        {
            using var document = JsonDocument.Parse(body, new JsonDocumentOptions { MaxDepth = 4 });
            root = document.RootElement.Clone();
        }
        catch (JsonException e)
        {
            throw new UserInputException($"the body is not JSON: {e.Message}");
        }

        if (root.ValueKind == JsonValueKind.Object)
        {
            // JSON leaves a repeated key's meaning to the reader; here it is an error, not "the last wins".
            if (root.EnumerateObject().GroupBy(property => property.Name).FirstOrDefault(named => named.Count() > 1) is { } repeated)
                throw new UserInputException($"the key \"{Truncate(repeated.Key)}\" appears {repeated.Count()} times; give it once");
            if (root.TryGetProperty("input", out var inner))
                root = inner;
        }

        if (root.ValueKind != JsonValueKind.Array)
            throw new UserInputException($"expected a JSON array of {inputs} numbers in [0, 1]");
        int length = root.GetArrayLength();
        if (length != inputs)
            throw new UserInputException($"expected {inputs} values, got {length}");
        var values = new float[inputs];
        int i = 0;
        foreach (var element in root.EnumerateArray())
        {
            if (element.ValueKind != JsonValueKind.Number || !element.TryGetDouble(out double value) || !(value is >= 0 and <= 1))
                throw new UserInputException($"value {i} is {Truncate(element.GetRawText())}, not a number in [0, 1]");
            values[i++] = (float)value;
        }

        return values;
    }

    private static string Truncate(string text) => text.Length <= 40 ? text : text[..40] + "…";
}

/// <summary>Why a request is refused: its HTTP status and a one-line message.</summary>
internal sealed record Refusal(int Status, string Message);
