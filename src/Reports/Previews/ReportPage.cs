using System.Globalization;
using System.Net;
using System.Text;
using MnistGpu.Engine.Data;
using MnistGpu.Engine.Model;
using MnistGpu.Engine.Model.Layers;
using MnistGpu.Engine.Training;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace MnistGpu.Reports.Previews;

/// <summary>
/// report.html: one file that works alone — mailed, copied or opened offline it shows everything,
/// because it refers to nothing outside itself. Curves are inline SVG, the confusion matrix a
/// coloured table, the mistakes 28×28 PNGs in data: URIs (about 400 bytes each) enlarged by the
/// browser, and the CSV of all mistakes a data: download link. Top to bottom: the run, the
/// epochs, the curves, the confusion matrix, accuracy per digit, the most confident mistakes.
/// </summary>
internal static class ReportPage
{
    /// <summary>How many times the browser enlarges each 28×28 digit.</summary>
    private const int TileZoom = 3;

    private const string Style = """
        body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1000px;padding:0 1em;background:#fafafa;color:#222}
        h2{margin-top:1.6em;border-bottom:1px solid #ddd}
        table{border-collapse:collapse;margin:.6em 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}
        .summary td:first-child,.summary td:nth-child(2),.summary th:first-child,.summary th:nth-child(2){text-align:left}
        th{background:#eee}.facts th,.facts td{text-align:left}
        .confusion td{width:3em;color:#fff;font-variant-numeric:tabular-nums}.confusion .axis{background:none;border:none}
        .bar{display:inline-block;height:.8em;background:#4a9;vertical-align:middle}
        svg{max-width:100%;height:auto;font:13px system-ui,sans-serif}
        .grid{display:flex;flex-wrap:wrap;gap:10px}
        figure{margin:0;padding:4px;background:#202028;color:#eee;text-align:center;font-size:12px;border-radius:3px}
        figure img{display:block;image-rendering:pixelated}figcaption b{color:#ff8c78}
        """;

    public static string Html(RunReport run, IReadOnlyList<Mistake> mistakes, LabeledImages testSet, int limit, string csv)
    {
        var page = new StringBuilder();
        var test = run.Test;
        page.Append(CultureInfo.InvariantCulture, $"""
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
            <title>MnistGpu report: {test.Accuracy:P2} test accuracy</title>
            <style>{Style}</style></head><body>
            <h1>MnistGpu training report</h1>
            <p>Test accuracy <b>{test.Accuracy:P2}</b> ({test.Correct:N0} of {test.Count:N0}), test loss <b>{test.Loss:F4}</b>; {mistakes.Count:N0} test digits misclassified.</p>

            """);
        RunSummary(page, run);
        NetworkTable(page, NetworkSummary.Of(run.Shape));
        EpochTable(page, run.History);
        page.Append("<h2>Loss and accuracy</h2>\n").Append(CurvesSvg(run.History)).Append('\n');
        FirstLayerSection(page, run.FirstLayer, testSet);
        ConfusionTable(page, test.ConfusionMatrix(MnistData.Classes));
        PerClassTable(page, test.PerClass(MnistData.Classes));
        MistakeGrid(page, mistakes, testSet, limit, csv);
        page.Append("</body></html>\n");
        return page.ToString();
    }

    /// <summary>A convnet's first convolution: its kernels, and what one test digit looks like through them.</summary>
    private static void FirstLayerSection(StringBuilder page, FirstLayerPictures? first, LabeledImages testSet)
    {
        if (first is null)
            return;
        var layer = first.Layer;
        string kernels = Png(FirstLayerPicture.Kernels(first));
        string maps = Png(FirstLayerPicture.FeatureMaps(first, testSet.Images.AsSpan(first.DigitIndex * testSet.Pixels, testSet.Pixels), testSet.Rows));
        page.Append(CultureInfo.InvariantCulture, $"""
            <h2>First layer</h2>
            <p>The {layer.Filters} {layer.KernelSize}x{layer.KernelSize} kernels of {Encode(layer.Spec.ToString())} (orange: positive weights, blue: negative), and test digit {first.DigitIndex} (a {testSet.Labels[first.DigitIndex]}) beside its {layer.Filters} feature maps of {layer.Output.Height}x{layer.Output.Width} after the ReLU.</p>
            <p><img id="first-layer-kernels" alt="first-layer kernels" src="data:image/png;base64,{kernels}"></p>
            <p><img id="first-layer-feature-maps" alt="first-layer feature maps of test digit {first.DigitIndex}" src="data:image/png;base64,{maps}"></p>

            """);

        static string Png(SixLabors.ImageSharp.Image<SixLabors.ImageSharp.PixelFormats.Rgba32> image)
        {
            using (image)
            {
                using var memory = new MemoryStream();
                SixLabors.ImageSharp.ImageExtensions.SaveAsPng(image, memory);
                return Convert.ToBase64String(memory.ToArray());
            }
        }
    }

    private static void RunSummary(StringBuilder page, RunReport run)
    {
        var s = run.Settings;
        page.Append("<h2>Run</h2>\n<table class=\"facts\">\n");
        Fact("device", run.Device);
        Fact("data", run.DataSource);
        Fact("network", run.Shape.Layers.All(layer => layer is DenseLayerShape)
            ? $"{run.Shape}: dense layers, ReLU after each hidden one, softmax; Glorot-uniform weights"
            : $"{run.Shape}: {string.Join(", ", run.Shape.Layers.Select(layer => layer.ToString()))}; softmax; Glorot-uniform weights");
        Fact("optimizer", s.Optimizer.ToString());
        Fact("batch size", Invariant($"{s.BatchSize}"));
        Fact("seed", Invariant($"{s.Seed}"));
        Fact("epochs", Invariant($"{run.History.Count}"));
        Fact("training time", Invariant($"{run.History.Sum(h => h.Duration.TotalSeconds):F1} s"));
        Fact("report written", run.Written.ToString("yyyy-MM-dd HH:mm:ss 'UTC'", CultureInfo.InvariantCulture));
        page.Append("</table>\n");

        void Fact(string name, string value) => page.Append(CultureInfo.InvariantCulture, $"<tr><th>{name}</th><td>{Encode(value)}</td></tr>\n");
    }

    /// <summary>The network as Keras' model.summary() shows it, as <c>mnistgpu summary</c> prints it.</summary>
    private static void NetworkTable(StringBuilder page, NetworkSummary summary)
    {
        page.Append("<h2>Network</h2>\n<table class=\"summary\"><tr><th>Layer (type)</th><th>Output Shape</th><th>Param #</th></tr>\n");
        foreach (var layer in summary.Layers)
            page.Append(CultureInfo.InvariantCulture, $"<tr><td>{Encode(layer.Name)} ({Encode(layer.Type)})</td><td>{Encode(layer.OutputShape)}</td><td>{layer.Parameters:N0}</td></tr>\n");
        page.Append("</table>\n<p>").Append(string.Join("<br>", summary.Totals.Select(Encode))).Append("</p>\n");
    }

    private static void EpochTable(StringBuilder page, IReadOnlyList<EpochResult> history)
    {
        page.Append("<h2>Epochs</h2>\n");
        var shown = CurvePanel.Thinned(history, MostEpochRows);
        if (shown.Count < history.Count)
            page.Append(CultureInfo.InvariantCulture, $"<p>{shown.Count} of {history.Count:N0} epochs, evenly spaced, the last included.</p>\n");
        // A schedule's rates, when one moved them (a constant rate is the optimizer's, in the summary above).
        bool scheduled = history.Any(h => h.LearningRate is not null);
        // Validation columns only for a run that had a validation set: nothing else claims to be validation.
        bool validated = history.Any(h => h.ValidationLoss is not null);
        page.Append("<table><tr><th>epoch</th><th>time</th><th>train loss</th><th>train accuracy</th>")
            .Append(validated ? "<th>validation loss</th><th>validation accuracy</th>" : "")
            .Append("<th>test loss</th><th>test accuracy</th>")
            .Append(scheduled ? "<th>learning rate (last step)</th>" : "").Append("</tr>\n");
        foreach (var h in shown)
        {
            page.Append(CultureInfo.InvariantCulture, $"<tr><td>{h.Epoch}</td><td>{h.Duration.TotalSeconds:F1} s</td><td>{h.Loss:F4}</td><td>{h.Accuracy:P2}</td>");
            if (validated)
                page.Append(CultureInfo.InvariantCulture, $"<td>{h.ValidationLoss?.ToString("F4", CultureInfo.InvariantCulture) ?? "–"}</td><td>{h.ValidationAccuracy?.ToString("P2", CultureInfo.InvariantCulture) ?? "–"}</td>");
            page.Append(CultureInfo.InvariantCulture, $"<td>{h.TestLoss?.ToString("F4", CultureInfo.InvariantCulture) ?? "–"}</td><td>{h.TestAccuracy?.ToString("P2", CultureInfo.InvariantCulture) ?? "–"}</td>");
            if (scheduled)
                page.Append(CultureInfo.InvariantCulture, $"<td>{h.LearningRate?.ToString("0.####e+0", CultureInfo.InvariantCulture) ?? "–"}</td>");
            page.Append("</tr>\n");
        }

        page.Append("</table>\n");
    }

    /// <summary>Rows of the epoch table: a run of a million epochs still makes a page a browser opens.</summary>
    private const int MostEpochRows = 200;

    private const string TrainColour = "#3b7ddd";
    private const string TestColour = "#e8870e";

    /// <summary>The end labels' font size, in pixels.</summary>
    private const int LabelHeight = 13;

    /// <summary>At least as wide as a digit or point of the page's 13-pixel sans-serif (DejaVu Sans' digits: 8.3), so the boxes planned hold the text drawn.</summary>
    private const int LabelCharacterWidth = 9;

    /// <summary>The curves as SVG: crisp at any zoom, each point's value in its tooltip.</summary>
    private static string CurvesSvg(IReadOnlyList<EpochResult> history)
    {
        var panels = CurvePanel.Both(history);
        int width = panels.Count * CurvePanel.Width;
        var svg = new StringBuilder();
        svg.Append(CultureInfo.InvariantCulture, $"<svg viewBox=\"0 0 {width} {CurvePanel.Height}\" width=\"{width}\" height=\"{CurvePanel.Height}\" role=\"img\" aria-label=\"loss and accuracy per epoch\">\n");
        foreach (var panel in panels)
        {
            int x0 = panel.AxisX, y0 = CurvePanel.AxisY;
            svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{x0}\" y=\"24\" font-weight=\"bold\">{panel.Title}</text>\n");
            foreach (double tick in panel.ValueTicks)
            {
                int y = panel.Y(tick);
                svg.Append(CultureInfo.InvariantCulture, $"<line x1=\"{x0}\" y1=\"{y}\" x2=\"{x0 + CurvePanel.PlotWidth}\" y2=\"{y}\" stroke=\"#ddd\"/><text x=\"{x0 - 8}\" y=\"{y + 4}\" text-anchor=\"end\">{panel.Format(tick)}</text>\n");
            }

            svg.Append(CultureInfo.InvariantCulture, $"<path d=\"M{x0} {CurvePanel.PlotTop}V{y0}H{x0 + CurvePanel.PlotWidth}\" fill=\"none\" stroke=\"#333\"/>\n");
            foreach (int epoch in panel.EpochTicks)
                svg.Append(CultureInfo.InvariantCulture, $"<line x1=\"{panel.X(epoch)}\" y1=\"{y0}\" x2=\"{panel.X(epoch)}\" y2=\"{y0 + 5}\" stroke=\"#333\"/><text x=\"{panel.X(epoch)}\" y=\"{y0 + 20}\" text-anchor=\"middle\">{panel.EpochNumbers[epoch]}</text>\n");
            svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{x0 + CurvePanel.PlotWidth / 2}\" y=\"{y0 + 38}\" text-anchor=\"middle\">epoch</text>\n");
            Series(panel, panel.Train, "train", TrainColour);
            Series(panel, panel.Test, "test", TestColour);
            foreach (var label in panel.EndLabels(text => text.Length * LabelCharacterWidth, LabelHeight))
                svg.Append(CultureInfo.InvariantCulture, $"<text class=\"end-label\" x=\"{label.Left}\" y=\"{label.Top + LabelHeight - 3}\" font-size=\"{LabelHeight}\" fill=\"{(label.IsTrain ? TrainColour : TestColour)}\">{label.Text}</text>\n");
        }

        svg.Append(CultureInfo.InvariantCulture, $"<rect x=\"{CurvePanel.PlotLeft}\" y=\"{CurvePanel.Height - 20}\" width=\"14\" height=\"10\" fill=\"{TrainColour}\"/><text x=\"{CurvePanel.PlotLeft + 20}\" y=\"{CurvePanel.Height - 10}\">train</text>\n");
        svg.Append(CultureInfo.InvariantCulture, $"<rect x=\"{CurvePanel.PlotLeft + 80}\" y=\"{CurvePanel.Height - 20}\" width=\"14\" height=\"10\" fill=\"{TestColour}\"/><text x=\"{CurvePanel.PlotLeft + 100}\" y=\"{CurvePanel.Height - 10}\">test</text>\n");
        svg.Append("</svg>");
        return svg.ToString();

        void Series(CurvePanel panel, IReadOnlyList<double?> series, string name, string colour)
        {
            var points = CurvePanel.Points(series).ToList();
            if (points.Count == 0)
                return;
            // Unevaluated epochs break the line rather than being bridged.
            var path = new StringBuilder();
            for (int i = 0; i < points.Count; i++)
                path.Append(CultureInfo.InvariantCulture, $"{(i > 0 && points[i].Epoch == points[i - 1].Epoch + 1 ? 'L' : 'M')}{panel.X(points[i].Epoch)} {panel.Y(points[i].Value)}");
            svg.Append(CultureInfo.InvariantCulture, $"<path d=\"{path}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\"/>\n");
            foreach (var (epoch, value) in points)
                svg.Append(CultureInfo.InvariantCulture, $"<circle cx=\"{panel.X(epoch)}\" cy=\"{panel.Y(value)}\" r=\"4.5\" fill=\"{colour}\"><title>{name} {panel.Title}, epoch {panel.EpochNumbers[epoch]}: {panel.FormatPoint(value)}</title></circle>\n");
        }
    }

    private static void ConfusionTable(StringBuilder page, int[,] matrix)
    {
        int classes = matrix.GetLength(0);
        int largest = matrix.Cast<int>().Max();
        page.Append("<h2>Confusion matrix</h2>\n<p>Rows: the true digit; columns: the digit predicted. Green: right, red: wrong, deeper for larger counts (log scale).</p>\n");
        page.Append(CultureInfo.InvariantCulture, $"<table class=\"confusion\"><tr><th class=\"axis\"></th><th colspan=\"{classes}\">predicted</th></tr>\n<tr><th>true</th>");
        for (int p = 0; p < classes; p++)
            page.Append(CultureInfo.InvariantCulture, $"<th>{p}</th>");
        page.Append("</tr>\n");
        for (int t = 0; t < classes; t++)
        {
            page.Append(CultureInfo.InvariantCulture, $"<tr><th>{t}</th>");
            for (int p = 0; p < classes; p++)
                page.Append(CultureInfo.InvariantCulture, $"<td style=\"background:{HeatColour.Css(HeatColour.Cell(t == p, matrix[t, p], largest))}\">{matrix[t, p]}</td>");
            page.Append("</tr>\n");
        }

        page.Append("</table>\n");
    }

    private static void PerClassTable(StringBuilder page, IReadOnlyList<ClassAccuracy> classes)
    {
        page.Append("<h2>Accuracy per digit</h2>\n<table><tr><th>digit</th><th>test images</th><th>correct</th><th>accuracy</th><th></th></tr>\n");
        foreach (var c in classes)
        {
            string accuracy = c.Count == 0 ? "–" : c.Accuracy.ToString("P2", CultureInfo.InvariantCulture);
            // The bar spans 90 % to 100 %, where the digits differ from one another; a full-range bar would look the same for all.
            double bar = c.Count == 0 ? 0 : Math.Clamp((c.Accuracy - 0.9) / 0.1, 0, 1) * 200;
            page.Append(CultureInfo.InvariantCulture, $"<tr><td>{c.Class}</td><td>{c.Count:N0}</td><td>{c.Correct:N0}</td><td>{accuracy}</td><td style=\"text-align:left;width:210px\"><span class=\"bar\" style=\"width:{bar:F0}px\"></span></td></tr>\n");
        }

        page.Append("</table>\n<p>Bars run from 90 % (empty) to 100 % (full).</p>\n");
    }

    private static void MistakeGrid(StringBuilder page, IReadOnlyList<Mistake> mistakes, LabeledImages testSet, int limit, string csv)
    {
        string download = $"<a download=\"{PreviewWriter.Csv}\" href=\"data:text/csv;charset=utf-8;base64,{Convert.ToBase64String(Encoding.UTF8.GetBytes(csv))}\">{PreviewWriter.Csv}</a>";
        page.Append("<h2>Most confident mistakes</h2>\n");
        if (mistakes.Count == 0)
        {
            page.Append("<p>No test digit was misclassified.</p>\n");
            return;
        }

        int shown = Math.Min(limit, mistakes.Count);
        page.Append(CultureInfo.InvariantCulture, $"<p>The {shown:N0} of {mistakes.Count:N0} misclassified test digits the network was surest of, surest first: true → predicted, the probability it gave its answer, the digit's index in the test set. {download} lists all of them with their top three.</p>\n<div class=\"grid\">\n");
        int side = testSet.Rows * TileZoom;
        foreach (var m in mistakes.Take(shown))
        {
            string top3 = string.Join(", ", m.Top3.Select(t => Invariant($"{t.Digit}: {t.Probability:P1}")));
            page.Append(CultureInfo.InvariantCulture, $"<figure title=\"top 3: {top3}\"><img width=\"{side}\" height=\"{side}\" alt=\"test digit {m.Index}, a {m.Label}\" src=\"data:image/png;base64,{Convert.ToBase64String(DigitPng(testSet, m.Index))}\">");
            page.Append(CultureInfo.InvariantCulture, $"<figcaption><b>{m.Label} → {m.Predicted}</b> {m.Confidence:P1}<br>#{m.Index}</figcaption></figure>\n");
        }

        page.Append("</div>\n");
    }

    /// <summary>The digit at its own 28×28 size, grey: the browser enlarges it.</summary>
    private static byte[] DigitPng(LabeledImages set, int index)
    {
        using var image = Image.LoadPixelData<L8>(set.Images.AsSpan(index * set.Pixels, set.Pixels), set.Columns, set.Rows);
        using var memory = new MemoryStream();
        image.SaveAsPng(memory);
        return memory.ToArray();
    }

    private static string Encode(string text) => WebUtility.HtmlEncode(text);

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
