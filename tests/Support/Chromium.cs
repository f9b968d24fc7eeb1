using System.Diagnostics;
using System.Text.RegularExpressions;

namespace MnistGpu.Tests.Support;

/// <summary>
/// Headless Chromium (Debian's <c>chromium</c> package, which .ci/run installs), to see a page the
/// way a reader's browser does: which images decoded, and what the page looks like.
/// </summary>
internal static partial class Chromium
{
    private static readonly Lazy<string?> Executable = new(() =>
        new[] { "chromium", "chromium-browser", "google-chrome" }
            .SelectMany(name => (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Select(dir => Path.Combine(dir, name)))
            .FirstOrDefault(File.Exists));

    /// <summary>The browser's executable (see <see cref="Unavailable"/> first).</summary>
    public static string ExecutablePath => Executable.Value ?? throw new InvalidOperationException(Unavailable);

    /// <summary>Chromium's sandbox refuses to start as root.</summary>
    public static bool NeedsNoSandbox => Environment.IsPrivilegedProcess;

    /// <summary>
    /// Why pages cannot be rendered here, or null when they can. Where MNISTGPU_REQUIRE_CHROMIUM=1
    /// (CI, which installs it), its absence fails the test instead of skipping it.
    /// </summary>
    public static string? Unavailable
    {
        get
        {
            if (Executable.Value is not null)
                return null;
            const string Missing = "no chromium on PATH (Debian: apt-get install chromium)";
            if (Environment.GetEnvironmentVariable("MNISTGPU_REQUIRE_CHROMIUM") == "1")
                throw new InvalidOperationException(Missing + ", and MNISTGPU_REQUIRE_CHROMIUM=1 requires it");
            return Missing;
        }
    }

    /// <summary>
    /// Loads <paramref name="page"/> and returns each image's natural size (0x0 when it did not
    /// decode) and the length of the page's visible text, read back from the DOM by a script
    /// injected into a copy, alone in a folder of its own.
    /// </summary>
    public static (IReadOnlyList<(int Width, int Height)> Images, int TextLength) Inspect(string page)
    {
        const string Probe = """
            <script>addEventListener('load', () => {
              for (const img of document.images) img.setAttribute('data-natural', img.naturalWidth + 'x' + img.naturalHeight);
              document.body.setAttribute('data-text-length', document.body.innerText.trim().length);
            });</script>
            """;
        using var alone = new TempDirectory();
        string probed = alone.File(Path.GetFileName(page));
        File.WriteAllText(probed, File.ReadAllText(page).Replace("</body>", Probe + "</body>", StringComparison.Ordinal));
        string dom = Run("--dump-dom", new Uri(probed).AbsoluteUri);
        var images = NaturalSize().Matches(dom).Select(m => (int.Parse(m.Groups[1].Value), int.Parse(m.Groups[2].Value))).ToList();
        var text = TextLength().Match(dom);
        return (images, text.Success ? int.Parse(text.Groups[1].Value) : 0);
    }

    /// <summary>
    /// The box each SVG element matching <paramref name="selector"/> draws in, in its SVG's user
    /// units (<c>getBBox</c>, so the font the browser really used), in document order.
    /// </summary>
    public static IReadOnlyList<(double X, double Y, double Width, double Height)> BoundingBoxes(string page, string selector)
    {
        string probe = $$"""
            <script>addEventListener('load', () => {
              document.body.setAttribute('data-boxes', [...document.querySelectorAll('{{selector}}')]
                .map(e => { const b = e.getBBox(); return [b.x, b.y, b.width, b.height].join(','); }).join(';'));
            });</script>
            """;
        using var alone = new TempDirectory();
        string probed = alone.File(Path.GetFileName(page));
        File.WriteAllText(probed, File.ReadAllText(page).Replace("</body>", probe + "</body>", StringComparison.Ordinal));
        string dom = Run("--dump-dom", new Uri(probed).AbsoluteUri);
        string boxes = Boxes().Match(dom).Groups[1].Value;
        return boxes.Split(';', StringSplitOptions.RemoveEmptyEntries)
            .Select(box => box.Split(',').Select(v => double.Parse(v, System.Globalization.CultureInfo.InvariantCulture)).ToArray())
            .Select(v => (v[0], v[1], v[2], v[3]))
            .ToList();
    }

    /// <summary>A PNG of the page's first <paramref name="height"/> pixels at 1100 pixels wide.</summary>
    public static void Screenshot(string page, string png, int height) =>
        Run($"--screenshot={png}", "--window-size=1100," + height, "--hide-scrollbars", new Uri(page).AbsoluteUri);

    private static string Run(params string[] arguments)
    {
        using var profile = new TempDirectory();
        var start = new ProcessStartInfo(Executable.Value ?? throw new InvalidOperationException(Unavailable))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string argument in new[] { "--headless", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run", $"--user-data-dir={profile.Path}", "--virtual-time-budget=10000" })
            start.ArgumentList.Add(argument);
        if (NeedsNoSandbox)
            start.ArgumentList.Add("--no-sandbox");
        foreach (string argument in arguments)
            start.ArgumentList.Add(argument);
        using var process = Process.Start(start)!;
        var error = process.StandardError.ReadToEndAsync();
        string output = process.StandardOutput.ReadToEnd();
        if (!process.WaitForExit(120_000))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException("chromium did not finish within 120 s");
        }

        if (process.ExitCode != 0)
            throw new InvalidOperationException($"chromium exited with {process.ExitCode}: {error.Result}");
        return output;
    }

    [GeneratedRegex("data-natural=\"(\\d+)x(\\d+)\"")]
    private static partial Regex NaturalSize();

    [GeneratedRegex("data-text-length=\"(\\d+)\"")]
    private static partial Regex TextLength();

    [GeneratedRegex("data-boxes=\"([^\"]*)\"")]
    private static partial Regex Boxes();
}
