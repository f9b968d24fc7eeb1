using MnistGpu.Engine.IO;
using MnistGpu.Tests.Support;

namespace MnistGpu.Tests.Engine.IO;

public sealed class FileKindsTests : IDisposable
{
    private readonly TempDirectory folder = new();

    public void Dispose() => folder.Dispose();

    [SkippableFact]
    public void Every_kind_of_entry_is_told_apart_and_links_are_followed()
    {
        Skip.If(Posix.NoFifos is not null, Posix.NoFifos);
        string file = folder.File("file");
        File.WriteAllText(file, "x");
        string fifo = Posix.MakeFifo(folder.File("fifo"));
        string link = folder.File("link");
        File.CreateSymbolicLink(link, file);
        string dangling = folder.File("dangling");
        File.CreateSymbolicLink(dangling, folder.File("nowhere"));

        Assert.Equal(FileKind.Regular, FileKinds.Of(file));
        Assert.Equal(FileKind.Directory, FileKinds.Of(folder.Path));
        Assert.Equal(FileKind.Fifo, FileKinds.Of(fifo));
        Assert.Equal(FileKind.CharacterDevice, FileKinds.Of("/dev/null"));
        Assert.Equal(FileKind.Regular, FileKinds.Of(link));
        Assert.Equal(FileKind.Missing, FileKinds.Of(dangling));
        Assert.Equal(FileKind.Missing, FileKinds.Of(folder.File("absent")));
    }
}
