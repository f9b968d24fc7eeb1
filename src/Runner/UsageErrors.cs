using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using MnistGpu.Engine;

namespace MnistGpu.Runner;

/// <summary>
/// The one line a mistake on the command line gets. An unknown command or option is named with
/// the nearest real one ("did you mean --epochs?"), from a typo or a name other tools use
/// (--lr); the value typed after it is not a second error. An option is unknown wherever it
/// stands, among a command's file arguments too (predict's pictures): only after "--" is "-x" a
/// file name. A file given where --model is required is pointed at --model. Otherwise the
/// parser's own messages, each once, without their full stops.
/// </summary>
internal static class UsageErrors
{
    /// <summary>What people coming from other tools type, and what it is here.</summary>
    private static readonly Dictionary<string, string> OptionAliases = new(StringComparer.OrdinalIgnoreCase)
    {
        ["--lr"] = "--learning-rate",
        ["--learningrate"] = "--learning-rate",
        ["--bs"] = "--batch-size",
        ["--batchsize"] = "--batch-size",
        ["--batch"] = "--batch-size",
        ["--epoch"] = "--epochs",
        ["--gpu"] = "--device",
        ["--model-path"] = "--model",
        ["--checkpoint"] = "--model",
        ["--out"] = "--save",
        ["--output"] = "--save",
    };

    /// <summary>The problem with <paramref name="parsed"/>, or null when it is a command to run.</summary>
    public static string? Describe(ParseResult parsed, RootCommand root)
    {
        var command = parsed.CommandResult.Command;
        if (command == root)
            return parsed.Errors.Count == 0 ? null : Root(parsed, root);
        if (UnknownOption(parsed, command, root) is { } unknown)
            return unknown;
        if (parsed.Errors.Count == 0)
            return null;

        var model = command.Options.FirstOrDefault(option => option.Name == "--model");
        string? positional = parsed.UnmatchedTokens.Count > 0 ? parsed.UnmatchedTokens[0] : null;
        if (model is { Required: true } && positional is not null && !parsed.Tokens.Any(token => token.Type == TokenType.Option && Names(model).Contains(token.Value)))
            return $"{command.Name} takes the checkpoint as --model: did you mean --model {positional}?";
        if (positional is not null)
            return $"{command.Name} takes no argument '{positional}'";
        return string.Join("; ", parsed.Errors.Select(error => error.Message.TrimEnd('.')).Distinct());
    }

    /// <summary>A command missing, or a word that is none ("trian").</summary>
    private static string Root(ParseResult parsed, RootCommand root)
    {
        var names = root.Subcommands.Select(c => c.Name).ToList();
        string list = string.Join(", ", names);
        string? first = parsed.Tokens.Select(token => token.Value).FirstOrDefault();
        if (first is null)
            return $"give a command: {list}";
        if (first.StartsWith('-'))
        {
            string? meant = Suggestions.Closest(first, root.Options.SelectMany(Names).Where(n => n.StartsWith("--", StringComparison.Ordinal)));
            return meant is not null ? $"unknown option '{first}'; did you mean {meant}?" : $"unknown option '{first}': give a command first ({list}), then its options";
        }

        return Suggestions.Closest(first, names) is { } command ? $"'{first}' is not a command; did you mean '{command}'?" : $"'{first}' is not a command; the commands are {list}";
    }

    /// <summary>The first option the command does not have, with the nearest one it does, or null.</summary>
    private static string? UnknownOption(ParseResult parsed, Command command, RootCommand root)
    {
        var known = command.Options.Concat(root.Options.Where(option => option.Recursive)).ToList();
        string? unknown = parsed.UnmatchedTokens.FirstOrDefault(LooksLikeOption);
        Token? previous = null;
        foreach (var token in parsed.Tokens)
        {
            if (unknown is not null || token.Type == TokenType.DoubleDash)
                break;
            // A value starting with '-' belongs to the option before it (--learning-rate -0.1,
            // refused there); anywhere else it is an option this command does not have.
            bool valueOfPrevious = previous is { Type: TokenType.Option } && known.FirstOrDefault(o => Names(o).Contains(previous.Value)) is { } option
                && option.ValueType != typeof(bool) && option.Arity.MaximumNumberOfValues > 0;
            if (token.Type == TokenType.Argument && LooksLikeOption(token.Value) && !valueOfPrevious)
                unknown = token.Value;
            previous = token;
        }

        if (unknown is null)
            return null;
        string name = unknown.Split('=', ':')[0];
        string? meant = OptionAliases.TryGetValue(name, out var alias) && known.Any(o => o.Name == alias) ? alias
            : Suggestions.Closest(name, known.SelectMany(Names).Where(n => n.StartsWith("--", StringComparison.Ordinal)));
        return meant is not null
            ? $"{command.Name}: unknown option '{unknown}'; did you mean {meant}?"
            : $"{command.Name}: unknown option '{unknown}' (a file whose name starts with '-' goes after --)";
    }

    private static IEnumerable<string> Names(Option option) => [option.Name, .. option.Aliases];

    /// <summary>"-x" or "--name", not "-" (standard input by convention) nor a negative number.</summary>
    private static bool LooksLikeOption(string token) =>
        token.Length > 1 && token[0] == '-' && !double.TryParse(token, NumberStyles.Float, CultureInfo.InvariantCulture, out _);
}
