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
using Microsoft.AspNetCore.Server.Kestrel.Core.Features;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using MnistGpu.Engine;

namespace MnistGpu.Server;

/// <summary>
/// The page where a person draws a digit and the API behind it, on Kestrel. It listens before
/// the model is loaded (<see cref="ListenAsync"/>, so a port in use costs nothing), then answers
/// once given the model (<see cref="Serve"/>); until then the API answers 503. Only the page's
/// three embedded files and three API routes exist; every error the server writes (400, 404,
/// 405, 408, 413, 415, 503) has a one-line JSON body, and the server goes on serving. Slow and
/// heavy clients are bounded: a body must arrive within <see cref="BodyDeadline"/>, at most
/// <see cref="MaxBodiesReceiving"/> are received at once, a prediction takes one of
/// <see cref="MaxInFlight"/> slots only once its body is in, and at most <see cref="MaxPreparing"/>
/// pictures are decoded at once. On loopback it answers only requests addressed to loopback, so a
/// page elsewhere cannot drive it through DNS rebinding.
/// </summary>
public sealed class DigitServer : IAsyncDisposable
{
    /// <summary>The most a refused body is read (and dropped) for, before the connection is closed.</summary>
    private const long DrainedBytes = 64L << 20;

    /// <summary>Predictions and explanations whose body is in, waiting for or using the device; more are answered 503 at once.</summary>
    public const int MaxInFlight = 16;

    /// <summary>Bodies being received at once (at most <see cref="PredictionInput.MaxBodyBytes"/> each); more are answered 503 unread.</summary>
    public const int MaxBodiesReceiving = 32;

    /// <summary>Inputs prepared at once (a picture decoded, JSON parsed): the memory a burst of large pictures can take.</summary>
    public const int MaxPreparing = 2;

    /// <summary>How long a client may take to send a body: the page's few kilobytes take milliseconds; a client slower than this gets 408.</summary>
    public static readonly TimeSpan BodyDeadline = TimeSpan.FromSeconds(10);

    /// <summary>How long stopping waits for the requests in flight before closing their connections.</summary>
    public static readonly TimeSpan StopDeadline = TimeSpan.FromSeconds(3);

    /// <summary>camelCase; a number that is not finite (an explanation of a model whose arithmetic overflows) is written as JSON's string form, never an exception.</summary>
    private static readonly JsonSerializerOptions JsonOptions = new(JsonSerializerDefaults.Web)
    {
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        // Messages read as written ("the picture's"), not "\u0027": the answers are application/json, read by scripts and the page's textContent, never put into HTML.
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    private static readonly Dictionary<string, (string Resource, string ContentType)> PageFiles = new()
    {
        ["/"] = ("Page/index.html", "text/html; charset=utf-8"),
        ["/page.js"] = ("Page/page.js", "text/javascript; charset=utf-8"),
        ["/page.css"] = ("Page/page.css", "text/css; charset=utf-8"),
    };

    private readonly WebApplication app;
    private readonly SemaphoreSlim preparing = new(MaxPreparing);

    /// <summary>Whether it listens on loopback only, so that requests must name loopback as their Host.</summary>
    private readonly bool loopback;
    private ServedModel? model;
    private int receiving;
    private int inFlight;

    /// <summary>The Host header values a loopback server answers (its names with its port), once its port is known.</summary>
    private HashSet<string>? hosts;

    private DigitServer(WebApplication app, bool loopback)
    {
        this.app = app;
        this.loopback = loopback;
    }

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
        var server = new DigitServer(app, IPAddress.IsLoopback(address));
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
        Volatile.Write(ref server.hosts, LoopbackHosts(server.Address.Port));
        return server;
    }

    /// <summary>From now on, answers with <paramref name="served"/>.</summary>
    public void Serve(ServedModel served) => Volatile.Write(ref model, served);

    /// <summary>Stops listening, lets the requests in flight finish for up to <see cref="StopDeadline"/>, then closes every connection, whatever its client is doing.</summary>
    public async Task StopAsync()
    {
        using var deadline = new CancellationTokenSource(StopDeadline);
        await app.StopAsync(deadline.Token).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync() => await app.DisposeAsync().ConfigureAwait(false);

    /// <summary>"localhost:PORT", "127.0.0.1:PORT" and "[::1]:PORT" (and the names alone on port 80, as browsers send them).</summary>
    private static HashSet<string> LoopbackHosts(int port)
    {
        string[] names = ["localhost", "127.0.0.1", "[::1]"];
        var hosts = new HashSet<string>(names.Select(name => $"{name}:{port}"), StringComparer.OrdinalIgnoreCase);
        if (port == 80)
            hosts.UnionWith(names);
        return hosts;
    }

    private void Route()
    {
        app.Use(async (context, next) =>
        {
            // Nothing the page needs comes from elsewhere, and nothing else may run in it.
            context.Response.Headers.ContentSecurityPolicy = "default-src 'self'; img-src 'self' data: blob:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
            context.Response.Headers.XContentTypeOptions = "nosniff";
            context.Response.Headers.CacheControl = "no-store";
            // A page on another site whose name is made to resolve to 127.0.0.1 (DNS rebinding)
            // reaches this server with its own name as the Host: only loopback names are answered.
            var named = Volatile.Read(ref hosts);
            if (loopback && named is null)
            {
                await Error(context, StatusCodes.Status503ServiceUnavailable, "the server is starting").ConfigureAwait(false);
                return;
            }

            if (loopback && !named!.Contains(context.Request.Host.Value ?? ""))
            {
                int port = Address.Port;
                await Error(context, StatusCodes.Status400BadRequest, $"this server answers only requests for localhost:{port}, 127.0.0.1:{port} or [::1]:{port}, not for host '{Truncate(context.Request.Host.Value ?? "")}'").ConfigureAwait(false);
                return;
            }

            await next(context).ConfigureAwait(false);
        });
        // Routing's own refusals (404, 405) get the same one-line JSON as the application's.
        app.UseStatusCodePages(async pages =>
        {
            var context = pages.HttpContext;
            int status = context.Response.StatusCode;
            string message = status switch
            {
                StatusCodes.Status404NotFound => $"no page or API route {Truncate(context.Request.Path.Value ?? "")}",
                StatusCodes.Status405MethodNotAllowed => $"{Truncate(context.Request.Method)} is not allowed on {context.Request.Path.Value}: the page's files and /api/model take GET, /api/predict and /api/explain take POST",
                _ => ReasonPhrases.GetReasonPhrase(status),
            };
            await Error(context, status, message).ConfigureAwait(false);
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
    /// size and type are checked before it is read, the body read within its deadline, and only
    /// then a slot taken to prepare the input and run it on the device.
    /// </summary>
    private async Task Answer(HttpContext context, Func<ServedModel, float[], object> compute)
    {
        if (Volatile.Read(ref model) is not { } served)
        {
            await Error(context, StatusCodes.Status503ServiceUnavailable, "the model is still loading").ConfigureAwait(false);
            return;
        }

        if (PredictionInput.CheckType(context.Request, served.Inputs) is { } refused)
        {
            await Error(context, refused.Status, refused.Message).ConfigureAwait(false);
            return;
        }

        var body = await Receive(context).ConfigureAwait(false);
        if (body is null)
            return;
        if (Interlocked.Increment(ref inFlight) > MaxInFlight)
        {
            Interlocked.Decrement(ref inFlight);
            await Error(context, StatusCodes.Status503ServiceUnavailable, $"busy: {MaxInFlight} predictions are in flight; try again").ConfigureAwait(false);
            return;
        }

        try
        {
            Refusal? refusal;
            float[]? input;
            await preparing.WaitAsync(context.RequestAborted).ConfigureAwait(false);
            try
            {
                (refusal, input) = await PredictionInput.From(context.Request, body, served.Inputs).ConfigureAwait(false);
            }
            finally
            {
                preparing.Release();
            }

            if (refusal is not null)
                await Error(context, refusal.Status, refusal.Message).ConfigureAwait(false);
            else
                await Json(context, StatusCodes.Status200OK, compute(served, input!)).ConfigureAwait(false);
        }
        catch (UserInputException e)
        {
            await Error(context, StatusCodes.Status400BadRequest, e.Message).ConfigureAwait(false);
        }
        catch (Exception e) when (e is EngineException or InvalidOperationException)
        {
            await Error(context, StatusCodes.Status500InternalServerError, e.Message).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            // The client is gone, or the server is stopping: nobody to answer.
        }
        finally
        {
            Interlocked.Decrement(ref inFlight);
        }
    }

    /// <summary>
    /// The request's body, read within <see cref="BodyDeadline"/> by one of
    /// <see cref="MaxBodiesReceiving"/> receivers; null when it was refused (and answered) or its
    /// client is gone. A refused body is not drained: its connection is closed.
    /// </summary>
    private async Task<byte[]?> Receive(HttpContext context)
    {
        if (Interlocked.Increment(ref receiving) > MaxBodiesReceiving)
        {
            Interlocked.Decrement(ref receiving);
            await Close(context, StatusCodes.Status503ServiceUnavailable, $"busy: {MaxBodiesReceiving} bodies are being received; try again").ConfigureAwait(false);
            return null;
        }

        try
        {
            // The whole body has its deadline; Kestrel's minimum rate would let a client
            // trickling 300 bytes a second hold its connection for an hour.
            context.Features.Get<IHttpMinRequestBodyDataRateFeature>()?.MinDataRate = null;
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);
            deadline.CancelAfter(BodyDeadline);
            var body = await PredictionInput.ReadBody(context.Request, deadline.Token).ConfigureAwait(false);
            if (body is null)
                await Close(context, StatusCodes.Status413PayloadTooLarge, PredictionInput.TooLarge).ConfigureAwait(false);
            return body;
        }
        catch (OperationCanceledException) when (!context.RequestAborted.IsCancellationRequested)
        {
            await Close(context, StatusCodes.Status408RequestTimeout, $"the body did not arrive within {BodyDeadline.TotalSeconds:N0} s").ConfigureAwait(false);
            return null;
        }
        catch (BadHttpRequestException e)
        {
            // Kestrel's own refusals of the body: longer than it drains, or ended before its length.
            await Close(context, e.StatusCode, e.StatusCode == StatusCodes.Status413PayloadTooLarge ? PredictionInput.TooLarge : e.Message).ConfigureAwait(false);
            return null;
        }
        catch (Exception e) when (e is OperationCanceledException or IOException)
        {
            // The client closed the connection, or the server is stopping.
            return null;
        }
        finally
        {
            Interlocked.Decrement(ref receiving);
        }
    }

    /// <summary>The error, and the connection closed after it, so that a body left unread is never waited for.</summary>
    private static Task Close(HttpContext context, int status, string message)
    {
        context.Response.Headers.Connection = "close";
        return Error(context, status, message);
    }

    private static Task Json(HttpContext context, int status, object value)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json; charset=utf-8";
        return context.Response.WriteAsync(JsonSerializer.Serialize(value, value.GetType(), JsonOptions) + "\n");
    }

    private static Task Error(HttpContext context, int status, string message) =>
        Json(context, status, new { error = message.ReplaceLineEndings(" ") });

    private static string Truncate(string text) => text.Length <= 80 ? text : text[..80] + "…";

    /// <summary>A host lifetime that leaves the process's signals to the command line.</summary>
    private sealed class CommandLineLifetime : IHostLifetime
    {
        public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
