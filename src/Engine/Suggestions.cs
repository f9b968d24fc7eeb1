namespace MnistGpu.Engine;

/// <summary>
/// "Did you mean": the known name closest to what was typed, when it is close enough to be a
/// typo — a letter left out, added, changed, or two neighbours swapped ("trian", "--epoch",
/// "adamw") — or what was typed is the start of exactly one name ("--learn").
/// </summary>
public static class Suggestions
{
    /// <summary>The candidate <paramref name="typed"/> most likely meant, or null when none is near.</summary>
    public static string? Closest(string typed, IEnumerable<string> candidates)
    {
        var names = candidates.Distinct(StringComparer.Ordinal).ToList();
        string lower = typed.ToLowerInvariant();
        var exact = names.FirstOrDefault(name => name.Equals(lower, StringComparison.OrdinalIgnoreCase));
        if (exact is not null)
            return exact;
        var scored = names.Select(name => (Name: name, Distance: Distance(lower, name.ToLowerInvariant()))).OrderBy(n => n.Distance).ToList();
        if (scored.Count > 0 && scored[0].Distance <= Allowed(lower) && (scored.Count == 1 || scored[1].Distance > scored[0].Distance))
            return scored[0].Name;
        var starting = names.Where(name => lower.Length >= 3 && name.StartsWith(lower, StringComparison.OrdinalIgnoreCase)).ToList();
        return starting.Count == 1 ? starting[0] : null;
    }

    /// <summary>"; did you mean 'adam'?" when one candidate is near <paramref name="typed"/>, else "".</summary>
    public static string DidYouMean(string typed, IEnumerable<string> candidates) =>
        Closest(typed, candidates) is { } near ? $"; did you mean '{near}'?" : "";

    /// <summary>Edits a typo may have: one in a short name, up to a third of a longer one's letters, at most three.</summary>
    private static int Allowed(string typed) => Math.Clamp(typed.TrimStart('-').Length / 3, 1, 3);

    /// <summary>Optimal string alignment distance: insertions, deletions, substitutions and swaps of neighbours, each one edit.</summary>
    private static int Distance(string a, string b)
    {
        var d = new int[a.Length + 1, b.Length + 1];
        for (int i = 0; i <= a.Length; i++)
            d[i, 0] = i;
        for (int j = 0; j <= b.Length; j++)
            d[0, j] = j;
        for (int i = 1; i <= a.Length; i++)
        {
            for (int j = 1; j <= b.Length; j++)
            {
                int cost = a[i - 1] == b[j - 1] ? 0 : 1;
                d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + cost);
                if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                    d[i, j] = Math.Min(d[i, j], d[i - 2, j - 2] + 1);
            }
        }

        return d[a.Length, b.Length];
    }
}
