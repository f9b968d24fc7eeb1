using Spectre.Console;
using Spectre.Console.Rendering;

namespace MnistGpu.Runner;

/// <summary>
/// Renders Spectre.Console tables to a command's writer: with colour on a terminal, as plain
/// wide text when the output is redirected (a log, a pipe, a test), so lines never wrap.
/// </summary>
internal static class Tables
{
    private const int RedirectedWidth = 240;

    public static void Write(TextWriter output, IRenderable renderable)
    {
        bool terminal = ReferenceEquals(output, Console.Out) && !Console.IsOutputRedirected;
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(output),
            Ansi = terminal ? AnsiSupport.Detect : AnsiSupport.No,
            ColorSystem = terminal ? ColorSystemSupport.Detect : ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.No,
        });
        if (!terminal)
            console.Profile.Width = RedirectedWidth;
        console.Write(renderable);
    }

    public static Table Create(params string[] columns)
    {
        var table = new Table().Border(TableBorder.Simple);
        foreach (string column in columns)
            table.AddColumn(new TableColumn(Markup.Escape(column)));
        return table;
    }

    public static void AddRow(this Table table, params string[] cells) =>
        table.AddRow(Array.ConvertAll(cells, c => (IRenderable)new Text(c)));
}
