using System.Globalization;
using MnistGpu.Engine.Training;

namespace MnistGpu.Reports.Previews;

/// <summary>
/// Where everything in one panel of the loss and accuracy curves goes — axes, ticks, points — so
/// that curves.png and the report's SVG draw the same chart. Values ticks are round numbers that
/// enclose every point; one epoch gives one point per series, in the middle, with its value written.
/// </summary>
internal sealed class CurvePanel
{
    public const int Width = 460;
    public const int Height = 330;
    public const int PlotLeft = 78;
    public const int PlotTop = 44;
    public const int PlotWidth = Width - PlotLeft - 24;
    public const int PlotHeight = Height - PlotTop - 64;

    /// <summary>The horizontal axis, in every panel.</summary>
    public const int AxisY = PlotTop + PlotHeight;

    private const int MostEpochTicks = 10;

    private static readonly int[] StepMultiples = [1, 2, 5, 10];

    /// <summary>Most points a series draws: a longer history is drawn from evenly spaced epochs, its last included.</summary>
    public const int MostPoints = 500;

    private CurvePanel(string title, IReadOnlyList<int> epochNumbers, IReadOnlyList<double?> train, IReadOnlyList<double?> test, int left)
    {
        Title = title;
        EpochNumbers = epochNumbers;
        Train = train;
        Test = test;
        Left = left;
        var values = train.Concat(test).OfType<double>().Where(double.IsFinite).ToList();
        (Low, High, Step) = RoundRange(values.Count == 0 ? 0 : values.Min(), values.Count == 0 ? 1 : values.Max());
        Decimals = Math.Max(0, (int)-Math.Floor(Math.Log10(Step) + 1e-9));
    }

    public string Title { get; }

    /// <summary>The epoch (1-based) each point of the series stands for.</summary>
    public IReadOnlyList<int> EpochNumbers { get; }

    /// <summary>The training series, one value per epoch.</summary>
    public IReadOnlyList<double?> Train { get; }

    /// <summary>The test series; null where the test set was not evaluated after that epoch.</summary>
    public IReadOnlyList<double?> Test { get; }

    /// <summary>The panel's left edge in the whole picture.</summary>
    public int Left { get; }

    public double Low { get; }

    public double High { get; }

    public double Step { get; }

    public int Decimals { get; }

    public int Epochs => Train.Count;

    public int AxisX => Left + PlotLeft;


    public IEnumerable<double> ValueTicks
    {
        get
        {
            int count = (int)Math.Round((High - Low) / Step);
            return Enumerable.Range(0, count + 1).Select(i => Low + i * Step);
        }
    }

    /// <summary>Epoch indices (0-based) that get a labelled tick: all of them, or evenly spaced ones ending at the last.</summary>
    public IEnumerable<int> EpochTicks
    {
        get
        {
            int stride = (Epochs + MostEpochTicks - 1) / MostEpochTicks;
            return Enumerable.Range(0, Epochs).Where(e => (Epochs - 1 - e) % Math.Max(1, stride) == 0);
        }
    }

    /// <summary>Loss and accuracy (in %) per epoch, side by side.</summary>
    public static IReadOnlyList<CurvePanel> Both(IReadOnlyList<EpochResult> history)
    {
        var shown = Thinned(history, MostPoints);
        var epochs = shown.Select(h => h.Epoch).ToList();
        return
        [
            new("loss", epochs, shown.Select(h => (double?)h.Loss).ToList(), shown.Select(h => h.TestLoss).ToList(), 0),
            new("accuracy %", epochs, shown.Select(h => (double?)(100 * h.Accuracy)).ToList(), shown.Select(h => h.TestAccuracy * 100).ToList(), Width),
        ];
    }

    /// <summary>At most <paramref name="most"/> of <paramref name="history"/>'s epochs, evenly spaced, the first and the last always among them.</summary>
    public static IReadOnlyList<EpochResult> Thinned(IReadOnlyList<EpochResult> history, int most) =>
        history.Count <= most
            ? history
            : Enumerable.Range(0, most).Select(i => history[(int)((long)i * (history.Count - 1) / (most - 1))]).ToList();

    public int X(int epoch) => AxisX + (Epochs <= 1 ? PlotWidth / 2 : (int)Math.Round(epoch * (double)PlotWidth / (Epochs - 1)));

    public int Y(double value) => AxisY - (int)Math.Round((value - Low) / (High - Low) * PlotHeight);

    public string Format(double value) => Fixed(value, Decimals);

    /// <summary>A point's value: one digit finer than the ticks, so that neighbouring points can be told apart.</summary>
    public string FormatPoint(double value) => Fixed(value, Decimals + 1);

    /// <summary>
    /// Where the two series' last values are written: beside each series' last point, the larger
    /// value's label above its point and the smaller's below, pushed apart until they are a gap
    /// apart, and kept inside the panel — so that curves that cross or end close together never
    /// write one label over the other, and a lone point's label is never cut at the edge.
    /// </summary>
    /// <param name="measure">How wide a text draws, in pixels.</param>
    /// <param name="height">How tall a label draws, in pixels.</param>
    public IReadOnlyList<EndLabel> EndLabels(Func<string, int> measure, int height)
    {
        const int Gap = 3, Beside = 8;
        var ends = new[] { (Series: Train, IsTrain: true), (Series: Test, IsTrain: false) }
            .Select(s => (s.IsTrain, Last: Points(s.Series).Select(p => ((int Epoch, double Value)?)p).LastOrDefault()))
            .Where(s => s.Last is not null)
            .Select(s => (s.IsTrain, s.Last!.Value.Epoch, s.Last!.Value.Value, Text: FormatPoint(s.Last!.Value.Value)))
            .OrderByDescending(s => s.Value)
            .ToList();
        var labels = new List<EndLabel>();
        for (int i = 0; i < ends.Count; i++)
        {
            var end = ends[i];
            int width = measure(end.Text);
            int x = X(end.Epoch), y = Y(end.Value);
            // After the last point when there is room (a lone point mid-plot), else ending at it.
            int left = x + Beside + width <= Left + Width - 2 ? x + Beside : x - width;
            bool above = i == 0;
            int top = above ? y - Beside - height : y + Beside;
            labels.Add(new EndLabel(end.Text, end.IsTrain, Math.Max(left, Left + 2), top, width, height));
        }

        if (labels.Count == 2 && labels[1].Top < labels[0].Top + height + Gap)
        {
            int overlap = labels[0].Top + height + Gap - labels[1].Top;
            labels[0] = labels[0] with { Top = labels[0].Top - (overlap + 1) / 2 };
            labels[1] = labels[1] with { Top = labels[1].Top + overlap / 2 };
        }

        // Inside the panel, between its title and the epoch axis, still apart after the shift.
        int highest = PlotTop - height, lowest = AxisY - height - 2;
        for (int i = 0; i < labels.Count; i++)
        {
            int floor = i == 0 ? highest : labels[i - 1].Top + height + Gap;
            labels[i] = labels[i] with { Top = Math.Max(labels[i].Top, floor) };
        }

        for (int i = labels.Count - 1; i >= 0; i--)
        {
            int ceiling = i == labels.Count - 1 ? lowest : labels[i + 1].Top - height - Gap;
            labels[i] = labels[i] with { Top = Math.Min(labels[i].Top, ceiling) };
        }

        return labels;
    }

    /// <summary>The finite points of a series, each with its epoch index.</summary>
    public static IEnumerable<(int Epoch, double Value)> Points(IReadOnlyList<double?> series) =>
        series.Select((v, e) => (e, v)).Where(p => p.v is double d && double.IsFinite(d)).Select(p => (p.e, p.v!.Value));

    private static string Fixed(double value, int decimals) => value.ToString("F" + decimals.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);

    /// <summary>Round bounds around [low, high] with a step of 1, 2 or 5 times a power of ten, about five ticks.</summary>
    private static (double Low, double High, double Step) RoundRange(double low, double high)
    {
        double span = high - low;
        if (span < 1e-12)
        {
            // One value, or all equal: a small window around it, so the point sits mid-height.
            double pad = Math.Max(Math.Abs(high) * 0.05, 1e-3);
            (low, high, span) = (low - pad, high + pad, 2 * pad);
        }

        double rough = span / 4;
        double power = Math.Pow(10, Math.Floor(Math.Log10(rough)));
        double step = StepMultiples.Select(m => m * power).First(s => s >= rough);
        return (Math.Floor(low / step) * step, Math.Ceiling(high / step) * step, step);
    }
}

/// <summary>A series' last value written in the chart: the box it takes, in the picture's pixels.</summary>
internal sealed record EndLabel(string Text, bool IsTrain, int Left, int Top, int Width, int Height);
