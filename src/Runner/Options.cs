using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using MnistGpu.Engine;
using MnistGpu.Engine.Training;

namespace MnistGpu.Runner;

/// <summary>
/// Options shared by several commands. Numeric options parse and range-check their value in one
/// place, so every command rejects bad values alike, with one line that names the option.
/// </summary>
internal static class Options
{
    /// <param name="all">Whether "all" (every usable device, one after the other) is accepted, as bench does.</param>
    public static Option<string> Device(bool all = false) => new("--device")
    {
        Description = (all ? "all (every usable device), " : "") + "auto, host (this CPU, SIMD), cpu (ILGPU CPU accelerator), cuda, opencl, cuda:N, opencl:N, or an index from 'devices'",
        DefaultValueFactory = _ => "auto",
    };

    /// <summary>--network: one of <see cref="NetworkPresets.All"/> by name, as train, bench, kernels, summary and verify take it.</summary>
    public static Option<string?> Network(string description) => new("--network")
    {
        Description = description,
        CustomParser = result =>
        {
            string text = result.Tokens.Count > 0 ? result.Tokens[0].Value : "";
            if (NetworkPresets.Find(text) is not null)
                return text;
            var names = NetworkPresets.All.Select(preset => preset.Name).ToList();
            result.AddError($"--network must be {string.Join(", ", names.SkipLast(1))} or {names[^1]}, got '{text}'{Suggestions.DidYouMean(text, names)}");
            return null;
        },
    };

    public static Option<int> Seed(int defaultValue) => new("--seed")
    {
        Description = "Seeds the initial weights and the shuffles",
        DefaultValueFactory = _ => defaultValue,
    };

    /// <summary>"1 epoch", "5 epochs".</summary>
    public static string Count(int count, string singular) => count == 1 ? $"1 {singular}" : $"{count} {singular}s";

    /// <summary>An option whose value is a fraction: a number for which <paramref name="isValid"/> holds, else one line saying it must be <paramref name="requirement"/>.</summary>
    public static Option<double?> Fraction(string name, string description, Func<double, bool> isValid, string requirement) => new(name)
    {
        Description = description,
        CustomParser = result => Number(result, name, isValid, requirement),
    };

    /// <summary>An option whose value is a whole number (digits only) for which <paramref name="isValid"/> holds, else one line saying it must be <paramref name="requirement"/>.</summary>
    public static Option<int?> WholeNumber(string name, string description, Func<int, bool> isValid, string requirement) => new(name)
    {
        Description = description,
        CustomParser = result =>
        {
            string text = result.Tokens.Count > 0 ? result.Tokens[0].Value : "";
            if (!int.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int value) || !isValid(value))
                result.AddError($"{name} must be {requirement}, got '{text}'");
            else
                return value;
            return null;
        },
    };

    /// <summary>An option's number, or null with one line saying it must be a number, or <paramref name="requirement"/>.</summary>
    public static T? Number<T>(System.CommandLine.Parsing.ArgumentResult result, string name, Func<T, bool> isValid, string requirement)
        where T : struct, System.Numerics.INumber<T>
    {
        string text = result.Tokens.Count > 0 ? result.Tokens[0].Value : "";
        if (!T.TryParse(text, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out T value))
            result.AddError($"{name} must be a number, got '{text}'");
        else if (!isValid(value))
            result.AddError($"{name} must be {requirement}, got {text}");
        else
            return value;
        return null;
    }

    public static Option<DirectoryInfo?> Data() => new("--data")
    {
        Description = "Folder with an MNIST-layout IDX set (raw or .gz); default: the bundled MNIST",
    };

    /// <summary>Caps what the device may allocate, e.g. to share a GPU or to test the out-of-memory path.</summary>
    public static Option<long?> MemoryLimit() => new("--memory-limit")
    {
        Description = "Most device memory to allocate, e.g. 512MB or 2GiB (default: what the device has)",
        CustomParser = result =>
        {
            string text = result.Tokens.Count > 0 ? result.Tokens[0].Value : "";
            if (ByteSize.TryParse(text, out long bytes))
                return bytes;
            result.AddError($"--memory-limit must be a size such as 1048576, 512MB or 2GiB, got '{text}'");
            return null;
        },
    };

    /// <summary>Threads of the host backend.</summary>
    public static Option<int?> Threads() => new("--threads")
    {
        Description = "Threads for --device host (default: one per core)",
        CustomParser = result =>
        {
            string text = result.Tokens.Count > 0 ? result.Tokens[0].Value : "";
            if (int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out int value) && value >= 1 && value <= 1024)
                return value;
            result.AddError($"--threads must be a whole number from 1 to 1024, got '{text}'");
            return null;
        },
    };

    public static Option<int> Epochs(int defaultValue) =>
        InRange("--epochs", "Passes over the training set", defaultValue, TrainingSettings.MaxEpochs);

    /// <summary>Samples per step, bounded so that no count built from it overflows; a batch larger than the training set is one batch of all of it.</summary>
    public static Option<int> BatchSize(int defaultValue) =>
        InRange("--batch-size", "Samples per step", defaultValue, TrainingSettings.MaxBatchSize);

    /// <summary>An integer option whose value must be at least 1.</summary>
    public static Option<int> AtLeastOne(string name, string description, int defaultValue) =>
        Checked(name, description, defaultValue, "a whole number", value => value >= 1 ? null : "at least 1");

    /// <summary>An integer option whose value must be from 1 to <paramref name="maximum"/>.</summary>
    private static Option<int> InRange(string name, string description, int defaultValue, int maximum) =>
        Checked(name, description, defaultValue, "a whole number", value => value < 1 ? "at least 1" : value > maximum ? string.Create(CultureInfo.InvariantCulture, $"at most {maximum:N0}") : null);

    /// <summary>A number option whose value must be finite and greater than zero.</summary>
    public static Option<float> Positive(string name, string description, float defaultValue) =>
        Checked(name, description, defaultValue, "a number", value => value > 0f && float.IsFinite(value) ? null : "a positive number");

    /// <param name="unmet">The requirement a parsed value fails ("at least 1"), or null when it is valid.</param>
    private static Option<T> Checked<T>(string name, string description, T defaultValue, string kind, Func<T, string?> unmet)
        where T : IParsable<T> => new(name)
        {
            Description = description,
            DefaultValueFactory = _ => defaultValue,
            CustomParser = result =>
            {
                string text = result.Tokens.Count > 0 ? result.Tokens[0].Value : "";
                if (!T.TryParse(text, CultureInfo.InvariantCulture, out var value))
                    result.AddError($"{name} must be {kind}, got '{text}'");
                else if (unmet(value) is { } requirement)
                    result.AddError($"{name} must be {requirement}, got {text}");
                return value!;
            },
        };
}
