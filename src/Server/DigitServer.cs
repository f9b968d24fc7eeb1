using System.Net;
using System.Net.Sockets;
using System.Reflection;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using MnistGpu.Engine;
using MnistGpu.Reports.Imaging;

namespace MnistGpu.Server;

/// <summary>
/// The page where a person draws a digit and the API behind it, on Kestrel. It listens before
/// the model is loaded (<see cref="ListenAsync"/>, so a port in use costs nothing), then answers
/// once given the model (<see cref="Serve"/>); until then the API answers 503. Only the page's
/// three embedded files and four API routes exist; every bad request gets a status and a one-line
/// JSON error, and the server goes on serving.
/// </summary>
public sealed class DigitServer : IAsyncDisposable
{
    /// <summary>The largest request body read: a drawn digit's PNG is a few kilobytes.</summary>
    public const int MaxBodyBytes = 1 << 20;

    /// <summary>The most a refused body is read (and dropped) for, before the connection is closed.</summary>
    private const long DrainedBytes = 64L << 20;

    /// <summary>Predictions and explanations in flight at once; more are answered 503 at once, unread.</summary>
    public const int MaxInFlight = 16;

    /// <summary>camelCase; a number that is not finite (an explanation of a model whose arithmetic overflows) is written as JSON's string form, never an exception.</summary>
    private static readonly JsonSerializerOptions JsonOptions = new(JsonSerializerDefaults.Web) { NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals };

    private static readonly string[] PictureTypes = ["image/png", "image/jpeg", "image/bmp", "image/gif"];

    private static readonly Dictionary<string, (string Resource, string ContentType)> PageFiles = new()
    {
        ["/"] = ("Page/index.html", "text/html; charset=utf-8"),
        ["/page.js"] = ("Page/page.js", "text/javascript; charset=utf-8"),
        ["/page.css"] = ("Page/page.css", "text/css; charset=utf-8"),
    };

    private readonly WebApplication app;
    private ServedModel? model;
    private int inFlight;

    private DigitServer(WebApplication app) => this.app = app;

    /// <summary>The address the page is at, e.g. http://127.0.0.1:5000/ (the port chosen when 0 was asked for).</summary>
    public Uri Address { get; private set; } = new("http://127.0.0.1/");

    /// <summary>Listens on <paramref name="address"/>:<paramref name="port"/> (0: any free port).</summary>
    /// <exception cref="EngineException">The port cannot be listened on (in use, not permitted, no such address here).</exception>
    public static async Task<DigitServer> ListenAsync(IPAddress address, int port)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [], EnvironmentName = Environments.Production, ApplicationName = "mnistgpu" });
        builder.Logging.ClearProviders();

        // The command line owns Ctrl-C and SIGTERM (and their exit codes), not the host.
        builder.Services.AddSingleton<IHostLifetime, CommandLineLifetime>();
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            // Kestrel drains what a refused request still sends, so that its client reads the
            // 413 or 503 instead of a broken connection; past this it closes the connection.
            kestrel.Limits.MaxRequestBodySize = DrainedBytes;
            kestrel.Listen(address, port);
        });
        var app = builder.Build();
        var server = new DigitServer(app);
        server.Route();
        try
        {
            await app.StartAsync().ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or SocketException)
        {
            await app.DisposeAsync().ConfigureAwait(false);
            string where = address.AddressFamily == AddressFamily.InterNetworkV6 ? $"[{address}]:{port}" : $"{address}:{port}";
            string reason = (e.InnerException ?? e) is SocketException { SocketErrorCode: SocketError.AddressAlreadyInUse } || e.Message.Contains("already in use", StringComparison.OrdinalIgnoreCase)
                ? "the port is in use"
                : (e.InnerException ?? e).Message;
            throw new EngineException($"cannot listen on {where}: {reason}", e);
        }

        string bound = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        server.Address = new Uri(bound.EndsWith('/') ? bound : bound + "/");
        return server;
    }

    /// <summary>From now on, answers with <paramref name="served"/>.</summary>
    public void Serve(ServedModel served) => Volatile.Write(ref model, served);

    public async Task StopAsync() => await app.StopAsync().ConfigureAwait(false);

    public async ValueTask DisposeAsync() => await app.DisposeAsync().ConfigureAwait(false);

    private void Route()
    {
        app.Use(async (context, next) =>
        {
            // Nothing the page needs comes from elsewhere, and nothing else may run in it.
            context.Response.Headers.ContentSecurityPolicy = "default-src 'self'; img-src 'self' data: blob:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
            context.Response.Headers.XContentTypeOptions = "nosniff";
            context.Response.Headers.CacheControl = "no-store";
            await next(context).ConfigureAwait(false);
        });
        foreach (var (path, file) in PageFiles)
            app.MapGet(path, context => PageFile(context, file.Resource, file.ContentType));
        app.MapGet("/api/model", context => WithModel(context, served => Json(context, StatusCodes.Status200OK, served.Description)));
        app.MapPost("/api/predict", context => Answer(context, (served, input) => served.Predict(input)));
        app.MapPost("/api/explain", context => Answer(context, (served, input) => served.Explain(input)));
    }

    private static async Task PageFile(HttpContext context, string resource, string contentType)
    {
        await using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream(resource)
            ?? throw new InvalidOperationException($"the page's {resource} is not embedded");
        context.Response.ContentType = contentType;
        await stream.CopyToAsync(context.Response.Body).ConfigureAwait(false);
    }

    private Task WithModel(HttpContext context, Func<ServedModel, Task> answer) =>
        Volatile.Read(ref model) is { } served ? answer(served) : Error(context, StatusCodes.Status503ServiceUnavailable, "the model is still loading");

    /// <summary>
    /// A picture or 784 values in, <paramref name="compute"/>'s result out as JSON: the body's
    /// size and type are checked before it is read, its content before the device sees it.
    /// </summary>
    private async Task Answer(HttpContext context, Func<ServedModel, float[], object> compute)
    {
        if (Volatile.Read(ref model) is not { } served)
        {
            await Error(context, StatusCodes.Status503ServiceUnavailable, "the model is still loading").ConfigureAwait(false);
            return;
        }

        if (Interlocked.Increment(ref inFlight) > MaxInFlight)
        {
            Interlocked.Decrement(ref inFlight);
            await Error(context, StatusCodes.Status503ServiceUnavailable, $"busy: {MaxInFlight} predictions are in flight; try again").ConfigureAwait(false);
            return;
        }

        try
        {
            var (status, message, input) = await ReadInput(context.Request, served.Inputs).ConfigureAwait(false);
            if (input is null)
            {
                await Error(context, status, message!).ConfigureAwait(false);
                return;
            }

            await Json(context, StatusCodes.Status200OK, compute(served, input)).ConfigureAwait(false);
        }
        catch (UserInputException e)
        {
            await Error(context, StatusCodes.Status400BadRequest, e.Message).ConfigureAwait(false);
        }
        catch (BadHttpRequestException e)
        {
            await Error(context, e.StatusCode, e.StatusCode == StatusCodes.Status413PayloadTooLarge ? TooLarge : e.Message).ConfigureAwait(false);
        }
        catch (Exception e) when (e is EngineException or InvalidOperationException)
        {
            await Error(context, StatusCodes.Status500InternalServerError, e.Message).ConfigureAwait(false);
        }
        finally
        {
            Interlocked.Decrement(ref inFlight);
        }
    }

    private static readonly string TooLarge = $"the body is larger than {MaxBodyBytes / 1024:N0} KiB";

    /// <summary>The network's input from the body, or the status and message that refuse it.</summary>
    private static async Task<(int Status, string? Message, float[]? Input)> ReadInput(HttpRequest request, int inputs)
    {
        if (request.ContentLength > MaxBodyBytes)
            return (StatusCodes.Status413PayloadTooLarge, TooLarge, null);
        string mediaType = (request.ContentType ?? "").Split(';')[0].Trim().ToLowerInvariant();
        bool json = mediaType == "application/json";
        if (!json && !PictureTypes.Contains(mediaType))
            return (StatusCodes.Status415UnsupportedMediaType, $"content type '{mediaType}' is not accepted: send a picture ({string.Join(", ", PictureTypes)}) or application/json with {inputs} values in [0, 1]", null);

        var body = await ReadBody(request).ConfigureAwait(false);
        if (body is null)
            return (StatusCodes.Status413PayloadTooLarge, TooLarge, null);
        if (body.Length == 0)
            return (StatusCodes.Status400BadRequest, "the body is empty", null);
        if (json)
            return (StatusCodes.Status200OK, null, Values(body, inputs));
        if (inputs != DigitImage.Side * DigitImage.Side)
            return (StatusCodes.Status400BadRequest, $"the model takes {inputs} values; pictures are made into {DigitImage.Side}x{DigitImage.Side}", null);
        return (StatusCodes.Status200OK, null, DigitImage.Decode("the picture", body));
    }

    /// <summary>The body, or null when it is longer than <see cref="MaxBodyBytes"/>.</summary>
    private static async Task<byte[]?> ReadBody(HttpRequest request)
    {
        using var body = new MemoryStream();
        var buffer = new byte[16 << 10];
        int read;
        while ((read = await request.Body.ReadAsync(buffer).ConfigureAwait(false)) > 0)
        {
            if (body.Length + read > MaxBodyBytes)
                return null;
            body.Write(buffer, 0, read);
        }

        return body.ToArray();
    }

    /// <summary>A JSON array of <paramref name="inputs"/> numbers in [0, 1], or an object holding one as "input".</summary>
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

        if (root.ValueKind == JsonValueKind.Object && root.TryGetProperty("input", out var inner))
            root = inner;
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

    private static Task Json(HttpContext context, int status, object value)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json; charset=utf-8";
        return context.Response.WriteAsync(JsonSerializer.Serialize(value, value.GetType(), JsonOptions) + "\n");
    }

    private static Task Error(HttpContext context, int status, string message) =>
        Json(context, status, new { error = message.ReplaceLineEndings(" ") });

    /// <summary>A host lifetime that leaves the process's signals to the command line.</summary>
    private sealed class CommandLineLifetime : IHostLifetime
    {
        public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
