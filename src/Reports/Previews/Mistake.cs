using MnistGpu.Engine.Training;

namespace MnistGpu.Reports.Previews;

/// <summary>A misclassified test image: how sure the network was of its wrong answer, and its top three.</summary>
public sealed partial record Mistake(int Index, int Label, int Predicted, float Confidence, IReadOnlyList<(int Digit, float Probability)> Top3)
{
    /// <summary>Every mistake of <paramref name="evaluation"/>, most confident first (ties: lower index first).</summary>
    public static IReadOnlyList<Mistake> All(Evaluation evaluation, int classes) =>
        Enumerable.Range(0, evaluation.Count)
            .Where(i => evaluation.Predictions[i] != evaluation.Labels[i])
            .Select(i =>
            {
                var row = evaluation.Probabilities.AsSpan(i * classes, classes).ToArray();
                var top3 = row.Select((p, digit) => (digit, p)).OrderByDescending(t => t.p).ThenBy(t => t.digit).Take(3).ToList();
                return new Mistake(i, evaluation.Labels[i], evaluation.Predictions[i], row[evaluation.Predictions[i]], top3);
            })
            .OrderByDescending(m => m.Confidence)
            .ThenBy(m => m.Index)
            .ToList();

    /// <summary>e.g. 00247-true4-pred2-0.973.png</summary>
    public string FileName => string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{Index:D5}-true{Label}-pred{Predicted}-{Confidence:0.000}.png");

    /// <summary>Whether <paramref name="name"/> is a <see cref="FileName"/>.</summary>
    public static bool IsFileName(string name) => FileNamePattern().IsMatch(name);

    [System.Text.RegularExpressions.GeneratedRegex(@"^\d{5,}-true\d+-pred\d+-\d\.\d{3}\.png$")]
    private static partial System.Text.RegularExpressions.Regex FileNamePattern();

    /// <summary>e.g. "4>2 97%" in the bitmap font's alphabet.</summary>
    public string Caption => string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{Label}>{Predicted} {Confidence * 100:0}%");
}
