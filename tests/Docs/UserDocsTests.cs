using System.Text.RegularExpressions;
using MnistGpu.Tests.Support;

namespace MnistGpu.Tests.Docs;

/// <summary>
/// What the user guide and the help say is what the program does: every command line in
/// docs/using.md names commands and options the program has; every reference figure says how to
/// reproduce it and when it was measured; the help describes the engine as it is.
/// </summary>
public sealed partial class UserDocsTests
{
    [Fact]
    public void Every_command_line_in_the_user_guide_uses_commands_and_options_that_exist()
    {
        string guide = File.ReadAllText(Path.Combine(Repository.Root, "docs", "using.md"));
        var lines = CommandLine().Matches(guide).Select(m => m.Groups[1].Value).ToList();
        Assert.True(lines.Count >= 15, $"only {lines.Count} command lines found");
        var help = new Dictionary<string, string>();
        foreach (string line in lines)
        {
            var words = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            string command = words[0];
            if (command.StartsWith('-'))
                continue;
            if (!help.TryGetValue(command, out string? text))
            {
                var result = CliRun.Run([command, "--help"]);
                Assert.True(result.Code == 0, $"'mnistgpu {command}' is no command: {result.Error}");
                help[command] = text = result.Output;
            }

            foreach (string option in words.Where(w => w.StartsWith("--", StringComparison.Ordinal)).Select(w => w.Split('=')[0]))
                Assert.True(text.Contains(option + " ", StringComparison.Ordinal) || text.Contains(option + ",", StringComparison.Ordinal), $"'mnistgpu {line}': {command} has no option {option}");
        }
    }

    [Fact]
    public void Every_reference_figure_names_the_command_that_measures_it_and_its_day()
    {
        string benchmarks = File.ReadAllText(Path.Combine(Repository.Root, "docs", "benchmarks.md"));
        string table = benchmarks[benchmarks.IndexOf("## Reference figures", StringComparison.Ordinal)..];
        var rows = table.Split('\n').Where(line => line.StartsWith("| ", StringComparison.Ordinal) && !line.StartsWith("| what", StringComparison.Ordinal)).ToList();
        Assert.True(rows.Count >= 8, $"{rows.Count} reference rows");
        Assert.All(rows, row =>
        {
            var cells = row.Split('|', StringSplitOptions.TrimEntries);
            Assert.Matches("`(mnistgpu|\\.ci/|OCL_ICD_VENDORS)", cells[3]);
            Assert.Matches(@"^20\d\d-\d\d-\d\d", cells[4]);
        });
        Assert.False(File.Exists(Path.Combine(Repository.Root, "docs", "results.md")), "results.md is folded into docs/using.md");
    }

    [Fact]
    public void The_help_describes_the_engine_as_it_is()
    {
        string root = CliRun.Run(["--help"]).Output;
        Assert.DoesNotContain("trains dense networks on", root, StringComparison.Ordinal);
        Assert.Contains("convnets", root, StringComparison.Ordinal);
        string export = CliRun.Run(["export", "--help"]).Output;
        Assert.Contains("Conv, MaxPool and Flatten", export, StringComparison.Ordinal);
        Assert.Contains("summary", root, StringComparison.Ordinal);
    }

    /// <summary>"mnistgpu train --network convnet" in the guide's code blocks and inline code: what follows "mnistgpu ".</summary>
    [GeneratedRegex(@"(?m)(?:^|`)mnistgpu ([a-z][^`#\n]*?)\s*(?:#.*)?(?:`|$)")]
    private static partial Regex CommandLine();
}
