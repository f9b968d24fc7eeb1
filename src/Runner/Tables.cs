using Spectre.Console;
using Spectre.Console.Rendering;

namespace MnistGpu.Runner;

/// <summary>
/// Renders Spectre.Console tables to a command's writer: with colour on a terminal; redirected
/// (a log, a pipe, a test) as plain text no wider than <see cref="RedirectedWidth"/> columns, and
/// a table that cannot fit that as one record per line ("row: column value | column value"), so
/// that a file of it reads without scrolling sideways and a line is a whole row.
/// </summary>
internal static class Tables
{
    /// <summary>The widest a redirected table's lines may be.</summary>
    public const int RedirectedWidth = 100;

    /// <summary>Wide enough that Spectre never wraps a cell: the table's natural width.</summary>
    private const int Unbounded = 10_000;

    public static void Write(TextWriter output, Table table)
    {
        bool terminal = ReferenceEquals(output, Console.Out) && !Console.IsOutputRedirected;
        if (terminal)
        {
            Render(output, table, width: null, ansi: true);
            return;
        }

        using var natural = new StringWriter();
        Render(natural, table, Unbounded, ansi: false);
        string text = natural.ToString();
        if (text.Split('\n').Max(line => line.TrimEnd().Length) <= RedirectedWidth)
            output.Write(text);
        else
            WriteRecords(output, table);
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

    private static void Render(TextWriter output, IRenderable renderable, int? width, bool ansi)
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(output),
            Ansi = ansi ? AnsiSupport.Detect : AnsiSupport.No,
            ColorSystem = ansi ? ColorSystemSupport.Detect : ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.No,
        });
        if (width is int columns)
            console.Profile.Width = columns;
        console.Write(renderable);
    }

    /// <summary>The header line, then each row as its first cell and the others named by their columns.</summary>
    private static void WriteRecords(TextWriter output, Table table)
    {
        var headers = table.Columns.Select(column => Plain(column.Header)).ToList();
        output.WriteLine(string.Join(" | ", headers.Where(h => h.Length > 0)));
        foreach (var row in table.Rows)
        {
            var cells = row.Select(Plain).ToList();
            var named = cells.Skip(1).Select((cell, i) => headers[i + 1].Length > 0 ? $"{headers[i + 1]} {cell}" : cell).Where(cell => cell.Length > 0);
            output.WriteLine($"{cells[0]}: {string.Join(" | ", named)}");
        }
    }

    /// <summary>A cell's text as it prints, without markup.</summary>
    private static string Plain(IRenderable cell)
    {
        using var text = new StringWriter();
        Render(text, cell, Unbounded, ansi: false);
        return text.ToString().Trim();
    }
}
