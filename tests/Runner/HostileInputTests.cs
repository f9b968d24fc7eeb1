using System.Buffers.Binary;
using System.IO.Hashing;
using System.Text.Json;
using MnistGpu.Engine.IO;
using MnistGpu.Tests.Support;

namespace MnistGpu.Tests.Runner;

/// <summary>
/// What a careless or hostile user can hand the command line — devices, FIFOs, links, endless
/// and enormous files, impossible sizes, checkpoints with a valid checksum and a wrong meaning,
/// damaged pictures, a full disk — each ends in exactly one line starting "mnistgpu:", no .NET
/// exception name, the right exit code (2: the input; 1: the environment), nothing replaced and
/// nothing left behind.
/// </summary>
public sealed class HostileInputTests : IDisposable
{
    private readonly TempDirectory data = IdxWriter.MnistSubset(trainCount: 300, testCount: 100);
    private readonly TempDirectory folder = new();

    public void Dispose()
    {
        data.Dispose();
        folder.Dispose();
    }

    [Fact]
    public void Images_in_several_gzip_members_that_fall_short_are_refused_before_training()
    {
        string images = Path.Combine(data.Path, "train-images-idx3-ubyte.gz");
        var bytes = IdxWriter.Encode(Bundled.Mnist.Train.Take(300).Images, 300, 28, 28)[..^100];
        File.WriteAllBytes(images, [.. IdxWriter.Gzip(bytes[..100_000]), .. IdxWriter.Gzip(bytes[100_000..])]);
        AssertOneLine(["train", "--device", "host", "--data", data.Path], 2, $"mnistgpu: {images}: not an IDX file: the gzip data is 235,116 bytes, but dimensions 300x28x28 need 235,216");
    }

    [SkippableTheory]
    [InlineData("train", "--save")]
    [InlineData("train", "--json")]
    [InlineData("export", "--onnx")]
    public void Dev_null_is_written_to_and_stays_a_device(string command, string option)
    {
        Skip.If(Posix.NoFifos is not null, Posix.NoFifos);
        string[] args = command == "export"
            ? ["export", "--model", SmallModel.WriteTo(folder), option, "/dev/null"]
            : ["train", "--device", "host", "--data", data.Path, "--epochs", "1", "--hidden", "16", option, "/dev/null"];
        var (code, _, error) = CliRun.Run(args);
        Assert.Equal("", error);
        Assert.Equal(0, code);
        Assert.Equal(FileKind.CharacterDevice, FileKinds.Of("/dev/null"));
    }

    [SkippableFact]
    public void Saving_through_a_symbolic_link_writes_its_target_and_keeps_the_link()
    {
        Skip.If(Posix.NoFifos is not null, Posix.NoFifos);
        string link = folder.File("link.ckpt");
        File.CreateSymbolicLink(link, "real.ckpt");
        var (code, _, error) = CliRun.Run(["train", "--device", "host", "--data", data.Path, "--epochs", "1", "--hidden", "16", "--save", link]);
        Assert.Equal("", error);
        Assert.Equal(0, code);
        Assert.Equal("real.ckpt", new FileInfo(link).LinkTarget);
        Assert.Equal(FileKind.Regular, FileKinds.Of(folder.File("real.ckpt")));
        Assert.Equal(2, Directory.GetFileSystemEntries(folder.Path).Length);
    }

    [SkippableFact]
    public void A_fifo_named_like_an_idx_file_is_refused_at_once()
    {
        Skip.If(Posix.NoFifos is not null, Posix.NoFifos);
        string labels = Path.Combine(data.Path, "t10k-labels-idx1-ubyte");
        File.Delete(labels);
        Posix.MakeFifo(labels);
        AssertOneLine(["train", "--data", data.Path], 2, $"mnistgpu: {labels}: is a FIFO (named pipe), not a regular file (an IDX file expected)");
    }

    [Fact]
    public void A_folder_named_like_an_idx_file_is_named_as_a_folder()
    {
        string labels = Path.Combine(data.Path, "t10k-labels-idx1-ubyte");
        File.Delete(labels);
        Directory.CreateDirectory(labels);
        AssertOneLine(["train", "--data", data.Path], 2, $"mnistgpu: {labels}: is a directory, not a regular file (an IDX file expected)");
    }

    [SkippableTheory]
    [InlineData("evaluate")]
    [InlineData("predict")]
    [InlineData("export")]
    [InlineData("train")]
    public void A_fifo_or_an_endless_device_as_the_model_is_refused_at_once(string command)
    {
        Skip.If(Posix.NoFifos is not null, Posix.NoFifos);
        string fifo = Posix.MakeFifo(folder.File("model.ckpt"));
        foreach (var (model, kind) in new[] { (fifo, "a FIFO (named pipe)"), ("/dev/zero", "a character device"), ("/dev/urandom", "a character device") })
        {
            string[] args = command switch
            {
                "predict" => ["predict", "--model", model, DigitPictures.LightOnDark(folder, 0, "seven.png")],
                "export" => ["export", "--model", model, "--onnx", folder.File("m.onnx")],
                "train" => ["train", "--resume", model, "--data", data.Path],
                _ => ["evaluate", "--model", model, "--data", data.Path],
            };
            AssertOneLine(args, 2, $"mnistgpu: {model}: is {kind}, not a regular file (a checkpoint expected)");
        }
    }

    [Theory]
    [InlineData("--hidden 50000000 --device host", 2, "mnistgpu: a 784-50000000-10 network has 39,750,000,010 parameters; one array holds at most 2,147,483,591")]
    [InlineData("--hidden 10000000 --device cpu", 2, "mnistgpu: a 784-10000000-10 network has 7,950,000,010 parameters; one array holds at most")]
    [InlineData("--hidden 2000000 --device host", 1, "mnistgpu: host (")]
    [InlineData("--hidden 100000 --device host --memory-limit 1GiB", 2, "mnistgpu: host (")]
    [InlineData("--device host --memory-limit 1MB", 2, "mnistgpu: host (")]
    public void A_network_that_cannot_fit_is_refused_before_anything_is_allocated(string arguments, int exitCode, string expected)
    {
        var (code, output, error) = CliRun.Run(["train", "--data", data.Path, .. arguments.Split(' ')]);
        Assert.Equal(exitCode, code);
        AssertOneLine(error, expected);
        if (exitCode == 1)
            Assert.Matches(@"out of device memory: this needs [\d,]+ bytes \(the network [\d,]+, host copies [\d,]+, the train set [\d,]+, the test set [\d,]+\), but [\d,]+ are available$", error.TrimEnd());
        else if (arguments.Contains("--memory-limit", StringComparison.Ordinal))
            Assert.Matches(@"over --memory-limit: this needs [\d,]+ bytes \(the network [\d,]+, host copies [\d,]+, the train set [\d,]+, the test set [\d,]+\); the limit is [\d,]+ bytes, of which [\d,]+ are left, and the device has [\d,]+ free$", error.TrimEnd());
        Assert.DoesNotContain("Epoch", output);
    }

    [Fact]
    public void A_checkpoint_with_fewer_classes_than_the_labels_is_refused_by_evaluate_but_predicts()
    {
        string model = Write("three.ckpt", CraftedCheckpoint.WithClasses(SmallModel.Bytes, 3));
        AssertOneLine(["evaluate", "--model", model, "--data", data.Path, "--device", "host"], 2, "mnistgpu: the network has 3 classes, but the test labels go up to 9");

        var (code, output, error) = CliRun.Run(["predict", "--model", model, "--device", "host", DigitPictures.LightOnDark(folder, 0, "seven.png")]);
        Assert.Equal("", error);
        Assert.Equal(0, code);
        Assert.Matches(@"seven\.png: [012] \(top 3: \d [\d.]+ %, \d [\d.]+ %, \d [\d.]+ %\)", output);
    }

    [Fact]
    public void A_checkpoint_at_a_step_past_the_end_of_its_epoch_is_refused_on_resuming()
    {
        string trained = folder.File("trained.ckpt");
        Assert.Equal(0, CliRun.Run(["train", "--device", "host", "--data", data.Path, "--epochs", "1", "--hidden", "16", "--save", trained]).Code);
        // The update count is edited to agree, so that only the data can tell the position is impossible.
        string model = Write("late.ckpt", CraftedCheckpoint.WithMetadata(File.ReadAllBytes(trained), json =>
        {
            json["position"]!["stepsDoneInEpoch"] = 5;
            json["optimizer"]!["updates"] = 3 + 5;
        }));
        AssertOneLine(["train", "--resume", model, "--data", data.Path, "--device", "host", "--epochs", "2"], 2, "mnistgpu: the checkpoint is at step 5, but an epoch has 3 steps");
    }

    [Theory]
    [InlineData("linear", 0, 5, "a learning-rate schedule is constant, step:EPOCHS:FACTOR, exponential:RATE, cosine or one-cycle, not 'linear'")]
    [InlineData("step:0:0.5", 0, 5, "step:EPOCHS:FACTOR needs EPOCHS a whole number of at least 1")]
    [InlineData("one-cycle", 10, 5, "one-cycle warms up by its own rule")]
    [InlineData("cosine", -1, 5, "warm-up steps must be 0 or more, got -1")]
    [InlineData("cosine", 0, 0, "the schedule spans 0 epochs, not 1..1000000")]
    public void A_checkpoint_with_a_meaningless_schedule_is_refused_in_one_line(string name, int warmupSteps, int epochs, string expected)
    {
        string model = Write("schedule.ckpt", CraftedCheckpoint.WithMetadata(SmallModel.Bytes, json =>
            json["settings"]!["schedule"] = new System.Text.Json.Nodes.JsonObject { ["name"] = name, ["warmupSteps"] = warmupSteps, ["epochs"] = epochs }));
        var (code, _, error) = CliRun.Run(["evaluate", "--model", model, "--data", data.Path, "--device", "host"]);
        Assert.Equal(2, code);
        Assert.Single(error.TrimEnd('\n').Split('\n'));
        Assert.Contains($"the checkpoint's metadata makes no sense: {expected}", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("evaluate")]
    [InlineData("predict")]
    [InlineData("predict --json")]
    public void A_checkpoint_with_a_nan_weight_is_refused_naming_the_weight(string command)
    {
        string model = Write("nan.ckpt", CraftedCheckpoint.WithFloat(SmallModel.Bytes, 1000, float.NaN));
        string[] args = [.. command.Split(' '), "--model", model, command == "evaluate" ? "--data" : DigitPictures.LightOnDark(folder, 0, "seven.png"), .. command == "evaluate" ? new[] { data.Path } : []];
        AssertOneLine(args, 2, $"mnistgpu: {model}: parameter 1000 (layer 1 (784->64) weight [15, 40]) is NaN");
    }

    [Theory]
    [InlineData("png", "the PNG file is damaged: a chunk runs past the end of the file (truncated)")]
    [InlineData("png-short-data", "the PNG file is damaged: its image data ends early")]
    [InlineData("png-bad-crc", "the PNG file is damaged: the CRC of its IDAT chunk is wrong (damaged)")]
    [InlineData("jpg", "the JPEG file is damaged: its image data ends without an end-of-image marker (truncated)")]
    [InlineData("gif", "the GIF file is damaged: it is cut short before its trailer (truncated)")]
    [InlineData("bmp", "the BMP file is damaged: its pixel data ends early")]
    public void A_damaged_picture_is_refused_not_read_as_a_digit(string kind, string expected)
    {
        string extension = kind.Split('-')[0];
        byte[] whole = File.ReadAllBytes(DigitPictures.LightOnDark(folder, 0, $"whole.{extension}"));
        byte[] damaged = kind switch
        {
            "png-short-data" => RewriteIdat(whole, data => data[..(data.Length / 2)]),
            "png-bad-crc" => RewriteIdat(whole, data => data, corruptCrc: true),
            _ => whole[..(whole.Length / 2)],
        };
        string path = Write($"damaged.{extension}", damaged);

        AssertOneLine(["predict", "--model", SmallModel.WriteTo(folder), "--device", "host", path], 2, $"mnistgpu: {path}: {expected}");
    }

    [Fact]
    public void One_bad_picture_does_not_hide_the_good_ones()
    {
        string model = SmallModel.WriteTo(folder);
        string seven = DigitPictures.LightOnDark(folder, 0, "seven.png");
        string bad = Write("bad.png", [1, 2, 3]);
        string two = DigitPictures.DarkOnLight(folder, 1, "two.jpg");

        var (code, output, error) = CliRun.Run(["predict", "--model", model, "--device", "host", seven, bad, two]);
        Assert.Equal(2, code);
        AssertOneLine(error, $"mnistgpu: {bad}: not an image (PNG, JPEG, BMP or GIF expected)");
        Assert.Matches($@"{Escape(seven)}: 7 \(top 3: .*\)\n", output);
        Assert.Matches($@"{Escape(two)}: 2 \(top 3: .*\)\n", output);

        (code, output, error) = CliRun.Run(["predict", "--model", model, "--device", "host", "--json", seven, bad, two]);
        Assert.Equal(2, code);
        AssertOneLine(error, $"mnistgpu: {bad}: not an image");
        using var document = JsonDocument.Parse(output);
        var entries = document.RootElement.EnumerateArray().ToList();
        Assert.Equal(7, entries[0].GetProperty("digit").GetInt32());
        Assert.Contains("not an image", entries[1].GetProperty("error").GetString());
        Assert.Equal(2, entries[2].GetProperty("digit").GetInt32());
    }

    [SkippableFact]
    public void A_fifo_given_as_a_picture_is_named_as_a_fifo()
    {
        Skip.If(Posix.NoFifos is not null, Posix.NoFifos);
        string fifo = Posix.MakeFifo(folder.File("pipe.png"));
        AssertOneLine(["predict", "--model", SmallModel.WriteTo(folder), fifo], 2, $"mnistgpu: {fifo}: is a FIFO (named pipe), not a regular file (an image expected)");
    }

    [SkippableFact]
    public void A_disk_too_small_for_a_checkpoint_fails_before_training_with_exit_1_and_leaves_nothing()
    {
        using var disk = new SmallDisk(kilobytes: 64);
        Skip.If(disk.Unavailable is not null, disk.Unavailable);
        var (code, output, error) = CliRun.Run(["train", "--device", "host", "--data", data.Path, "--epochs", "1", "--save", disk.File("m.ckpt")]);
        Assert.Equal(1, code);
        AssertOneLine(error, $"mnistgpu: checkpoint {disk.File("m.ckpt")}: the disk is full: ");
        Assert.DoesNotContain("Epoch", output);
        Assert.Empty(Directory.GetFileSystemEntries(disk.Path));
    }

    [SkippableFact]
    public void A_disk_that_fills_while_writing_is_exit_1_and_leaves_no_temporary_file()
    {
        using var disk = new SmallDisk(kilobytes: 256);
        Skip.If(disk.Unavailable is not null, disk.Unavailable);
        string onnx = disk.File("m.onnx");
        string model = SmallModel.WriteTo(folder);
        disk.Fill();
        File.Delete(disk.File("filler"));
        File.WriteAllBytes(disk.File("filler"), new byte[100 << 10]);

        // 204 KB are still free, enough for the early check, not for the whole 204 KB model and its structure.
        var (code, _, error) = CliRun.Run(["export", "--model", model, "--onnx", onnx]);
        Assert.Equal(1, code);
        AssertOneLine(error, "mnistgpu: ");
        Assert.Contains("the disk is full", error);
        Assert.Equal([disk.File("filler")], Directory.GetFiles(disk.Path));
    }

    [Fact]
    public void A_diverging_run_with_previews_leaves_no_previews_folder_behind()
    {
        string previews = folder.File("previews");
        var (code, _, error) = CliRun.Run(["train", "--device", "host", "--data", data.Path, "--learning-rate", "1e30", "--previews", previews]);
        Assert.Equal(1, code);
        AssertOneLine(error, "mnistgpu: training diverged");
        Assert.False(Directory.Exists(previews));
    }

    private string Write(string name, byte[] bytes)
    {
        string path = folder.File(name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    private static void AssertOneLine(string[] args, int exitCode, string expectedStart)
    {
        var (code, _, error) = CliRun.Run(args);
        Assert.Equal(exitCode, code);
        AssertOneLine(error, expectedStart);
    }

    private static void AssertOneLine(string error, string expectedStart) => OneLine.Expect(error, expectedStart);

    private static string Escape(string text) => System.Text.RegularExpressions.Regex.Escape(text);

    /// <summary>The PNG with its one IDAT chunk's data replaced and its CRC recomputed (or, when asked, left wrong).</summary>
    private static byte[] RewriteIdat(byte[] png, Func<byte[], byte[]> edit, bool corruptCrc = false)
    {
        var result = new List<byte>(png[..8]);
        for (int position = 8; position < png.Length;)
        {
            int length = BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(position));
            byte[] type = png[(position + 4)..(position + 8)];
            byte[] data = png[(position + 8)..(position + 8 + length)];
            if (System.Text.Encoding.ASCII.GetString(type) == "IDAT")
                data = edit(data);
            var chunk = new byte[12 + data.Length];
            BinaryPrimitives.WriteInt32BigEndian(chunk, data.Length);
            type.CopyTo(chunk, 4);
            data.CopyTo(chunk, 8);
            uint crc = Crc32.HashToUInt32(chunk.AsSpan(4, 4 + data.Length));
            BinaryPrimitives.WriteUInt32BigEndian(chunk.AsSpan(8 + data.Length), corruptCrc && type[0] == (byte)'I' && type[1] == (byte)'D' ? crc ^ 1 : crc);
            result.AddRange(chunk);
            position += 12 + length;
        }

        return result.ToArray();
    }
}
