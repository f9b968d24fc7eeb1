using System.Text;
using MnistGpu.Engine;
using MnistGpu.Engine.IO;
using MnistGpu.Tests.Support;

namespace MnistGpu.Tests.Engine.IO;

/// <summary>The one rule every output follows: atomic for files, direct for devices and FIFOs, links kept, nothing left behind.</summary>
public sealed class OutputFileTests : IDisposable
{
    private static readonly byte[] Content = Encoding.UTF8.GetBytes("new content");
    private readonly TempDirectory folder = new();

    public void Dispose() => folder.Dispose();

    [Fact]
    public void A_regular_file_is_replaced_whole_and_no_temporary_file_stays()
    {
        string path = folder.File("out.json");
        File.WriteAllText(path, "old, and longer than the new content");
        OutputFile.Write(path, Content);
        Assert.Equal(Content, File.ReadAllBytes(path));
        Assert.Equal([path], Directory.GetFiles(folder.Path));
    }

    [SkippableFact]
    public void A_symbolic_link_stays_a_link_and_its_target_is_written()
    {
        Skip.If(Posix.NoFifos is not null, Posix.NoFifos);
        Directory.CreateDirectory(folder.File("elsewhere"));
        string target = folder.File("elsewhere/real.ckpt");
        File.WriteAllText(target, "old");
        string link = folder.File("link.ckpt");
        File.CreateSymbolicLink(link, "elsewhere/real.ckpt");

        OutputFile.Check(link, "--save", bytesNeeded: 1);
        OutputFile.Write(link, Content);

        Assert.NotNull(new FileInfo(link).LinkTarget);
        Assert.Equal(Content, File.ReadAllBytes(target));
        Assert.Single(Directory.GetFiles(folder.File("elsewhere")));
    }

    [SkippableFact]
    public void A_device_is_written_to_and_never_replaced()
    {
        Skip.If(Posix.NoFifos is not null, Posix.NoFifos);
        OutputFile.Check("/dev/null", "--save", bytesNeeded: long.MaxValue);
        OutputFile.Write("/dev/null", Content);
        Assert.Equal(FileKind.CharacterDevice, FileKinds.Of("/dev/null"));
    }

    [SkippableFact]
    public void A_fifo_is_written_to_its_reader()
    {
        Skip.If(Posix.NoFifos is not null, Posix.NoFifos);
        string fifo = Posix.MakeFifo(folder.File("pipe"));
        var reader = Task.Run(() => File.ReadAllBytes(fifo));
        OutputFile.Write(fifo, Content);
        Assert.True(reader.Wait(TimeSpan.FromSeconds(30)));
        Assert.Equal(Content, reader.Result);
        Assert.Equal(FileKind.Fifo, FileKinds.Of(fifo));
    }

    [Fact]
    public void A_folder_where_a_file_is_wanted_is_a_usage_error()
    {
        var error = Assert.Throws<UserInputException>(() => OutputFile.Check(folder.Path, "--save"));
        Assert.Equal($"--save {folder.Path}: is a directory; give a file name", error.Message);
        Assert.Throws<UserInputException>(() => OutputFile.Write(folder.Path, Content));
    }

    [Fact]
    public void A_missing_folder_is_a_usage_error_before_any_work()
    {
        string path = folder.File("absent/run.json");
        var error = Assert.Throws<UserInputException>(() => OutputFile.Check(path, "--json"));
        Assert.Equal($"--json {path}: folder {folder.File("absent")} does not exist", error.Message);
        Assert.Throws<UserInputException>(() => OutputFile.CheckFolder(folder.File("absent/previews"), "--previews", [], []));
        Assert.False(Directory.Exists(folder.File("absent")));
    }

    [Fact]
    public void Checking_a_new_previews_folder_creates_nothing()
    {
        string previews = folder.File("previews");
        OutputFile.CheckFolder(previews, "--previews", ["report.html"], ["pictures"]);
        Assert.False(Directory.Exists(previews));
        Assert.Empty(Directory.GetFileSystemEntries(folder.Path));
    }

    [Fact]
    public void A_save_removes_the_temporary_files_of_dead_writers_and_keeps_those_of_live_ones()
    {
        string path = folder.File("m.ckpt");
        // No process can have this id (Linux's pid_max is at most 2^22); process 1 always runs.
        string orphan = folder.File(OutputFile.TemporaryName("m.ckpt", 99_999_999));
        string live = folder.File(OutputFile.TemporaryName("m.ckpt", 1));
        string other = folder.File(OutputFile.TemporaryName("other.ckpt", 99_999_999));
        foreach (string temporary in new[] { orphan, live, other })
            File.WriteAllText(temporary, "partial");

        OutputFile.Write(path, Content);

        Assert.False(File.Exists(orphan));
        Assert.True(File.Exists(live));
        Assert.True(File.Exists(other));
    }

    [SkippableFact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public void A_replaced_file_keeps_its_mode_and_a_read_only_one_is_refused_before_and_while_writing()
    {
        Skip.If(Posix.NoFifos is not null, Posix.NoFifos);
        string secret = folder.File("secret.ckpt");
        File.WriteAllText(secret, "old");
        File.SetUnixFileMode(secret, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        OutputFile.Write(secret, Content);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(secret));
        Assert.Equal(Content, File.ReadAllBytes(secret));

        string kept = folder.File("kept.ckpt");
        File.WriteAllText(kept, "old");
        File.SetUnixFileMode(kept, UnixFileMode.UserRead | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        var early = Assert.Throws<UserInputException>(() => OutputFile.Check(kept, "--save"));
        Assert.Equal($"--save {kept}: is read-only; it is not replaced (make it writable, or give another name)", early.Message);
        Assert.Throws<UserInputException>(() => OutputFile.Write(kept, Content));
        Assert.Equal("old", File.ReadAllText(kept));
        Assert.Equal(2, Directory.GetFiles(folder.Path).Length);
    }

    [Fact]
    public void A_name_of_255_bytes_is_written_through_a_shortened_temporary_name()
    {
        string name = new string('n', 250) + ".ckpt";
        string path = folder.File(name);
        OutputFile.Check(path, "--save");
        OutputFile.Write(path, Content);
        Assert.Equal(Content, File.ReadAllBytes(path));
        Assert.Equal([path], Directory.GetFiles(folder.Path));
        Assert.True(System.Text.Encoding.UTF8.GetByteCount(OutputFile.TemporaryName("é" + name, int.MaxValue)) <= 255);
    }

    [SkippableFact]
    public async Task Waiting_for_a_fifo_reader_ends_at_a_stop_signal()
    {
        Skip.If(Posix.NoFifos is not null, Posix.NoFifos);
        string fifo = Posix.MakeFifo(folder.File("pipe"));
        var writer = Task.Run(() => OutputFile.Write(fifo, Content));
        // A signal before the wait began is not for it, so signal until the writer gives up.
        for (int tries = 0; tries < 600 && !writer.IsCompleted; tries++)
        {
            OutputFile.StopSignalReceived();
            await Task.WhenAny(writer, Task.Delay(100));
        }

        var error = await Assert.ThrowsAsync<EngineException>(() => writer);
        Assert.Equal($"cannot write {fifo}: stopped while waiting for a reader of the FIFO; nothing was written", error.Message);
    }

    [SkippableFact]
    public void A_full_disk_is_an_environment_failure_found_before_the_work_and_while_writing()
    {
        using var disk = new SmallDisk(kilobytes: 256);
        Skip.If(disk.Unavailable is not null, disk.Unavailable);
        string path = disk.File("m.ckpt");

        var early = Assert.Throws<EngineException>(() => OutputFile.Check(path, "--save", bytesNeeded: 1 << 20));
        Assert.Matches(@"^--save .*m\.ckpt: the disk is full: 1,048,576 bytes are needed, [\d,]+ are free in ", early.Message);

        var late = Assert.Throws<EngineException>(() => OutputFile.Write(path, new byte[1 << 20]));
        Assert.Equal($"cannot write {path}: the disk is full", late.Message);
        Assert.Empty(Directory.GetFiles(disk.Path));
    }
}
