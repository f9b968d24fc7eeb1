using MnistGpu.Tests.Support;
using PuppeteerSharp;
using PuppeteerSharp.Input;

namespace MnistGpu.Tests.Server;

/// <summary>
/// The page in a real browser (the system Chromium, driven by PuppeteerSharp, nothing
/// downloaded): a person draws a 1, then a 7, with the mouse, and the answer follows, already
/// while the stroke is drawn. The
/// screenshots are kept with the test results (MNISTGPU_TEST_RESULTS, which .ci/run sets).
/// </summary>
[Collection(ServedSeedNetwork.Name)]
public sealed class ServePageTests(ServedProcess served)
{
    /// <summary>Strokes in the pad's 280×280 pixels: a 1 straight down, and a 7's bar then its slant.</summary>
    private static readonly (string Digit, (int X, int Y)[][] Strokes)[] Digits =
    [
        ("1", [[(140, 45), (140, 235)]]),
        ("7", [[(75, 60), (205, 60), (120, 235)]]),
    ];

    [SkippableFact]
    public async Task Drawing_a_1_then_a_7_with_the_mouse_answers_1_then_7()
    {
        Skip.If(Chromium.Unavailable is not null, Chromium.Unavailable);
        var options = new LaunchOptions
        {
            Headless = true,
            ExecutablePath = Chromium.ExecutablePath,
            Args = Chromium.NeedsNoSandbox ? ["--no-sandbox", "--disable-dev-shm-usage"] : ["--disable-dev-shm-usage"],
        };
        await using var browser = await Puppeteer.LaunchAsync(options);
        await using var page = await browser.NewPageAsync();
        await page.SetViewportAsync(new ViewPortOptions { Width = 1000, Height = 900 });
        await page.GoToAsync(served.Address.AbsoluteUri, WaitUntilNavigation.Networkidle0);
        await page.WaitForFunctionAsync("() => document.querySelector('#model').textContent.includes('784-512-10')", new WaitForFunctionOptions { Timeout = 20_000 });
        var pad = await (await page.QuerySelectorAsync("#pad")).BoundingBoxAsync();
        Assert.Equal(["dense (Dense)", "dense_1 (Dense)"], await page.EvaluateExpressionAsync<string[]>("[...document.querySelectorAll('#summary tbody tr td:first-child')].map(cell => cell.textContent)"));
        Assert.StartsWith("Total params: 407,050 (1.55 MB)", await page.EvaluateExpressionAsync<string>("document.getElementById('totals').textContent"), StringComparison.Ordinal);

        string folder = Environment.GetEnvironmentVariable("MNISTGPU_TEST_RESULTS") is { Length: > 0 } kept ? kept : Path.Combine(AppContext.BaseDirectory, "TestResults");
        Directory.CreateDirectory(folder);
        foreach (var (digit, strokes) in Digits)
        {
            await page.ClickAsync("#clear");
            foreach (var stroke in strokes)
            {
                await page.Mouse.MoveAsync(pad.X + stroke[0].X, pad.Y + stroke[0].Y);
                await page.Mouse.DownAsync();
                foreach (var (x, y) in stroke.Skip(1))
                {
                    await page.Mouse.MoveAsync(pad.X + x, pad.Y + y, new MoveOptions { Steps = 25 });

                    // The answer follows the stroke while it is drawn, before the button is released.
                    await page.WaitForFunctionAsync("() => document.querySelector('#answer').textContent !== ''", new WaitForFunctionOptions { Timeout = 20_000 });
                }

                await page.Mouse.UpAsync();
            }

            await page.WaitForFunctionAsync($"() => document.querySelector('#answer').textContent === '{digit}'", new WaitForFunctionOptions { Timeout = 20_000 });
            await page.WaitForFunctionAsync("() => document.querySelectorAll('#why canvas').length === 8", new WaitForFunctionOptions { Timeout = 20_000 });
            Assert.Equal(digit, await page.EvaluateExpressionAsync<string>("document.querySelector('#answer').textContent"));
            Assert.Equal(10, await page.EvaluateExpressionAsync<int>("document.querySelectorAll('#bars li').length"));
            await page.ScreenshotAsync(Path.Combine(folder, $"serve-page-{digit}.png"), new ScreenshotOptions { FullPage = true });
        }
    }
}
