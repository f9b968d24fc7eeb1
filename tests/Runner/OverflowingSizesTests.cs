using System.Buffers.Binary;
using System.Diagnostics;
using MnistGpu.Engine.Training;
using MnistGpu.Tests.Support;

namespace MnistGpu.Tests.Runner;

/// <summary>
/// Sizes a user or a file gives that would wrap, overflow or exhaust memory (a batch of
/// int.MaxValue, a kernel of 2³¹, a metadata length of 2 GiB), options that contradict each
/// other, values too long to echo, two runs saving to one checkpoint, and several stop signals:
/// each is refused before the device opens in one line with exit 2 and nothing written, or keeps
/// the meaning of the first thing the user did.
/// </summary>
public sealed class OverflowingSizesTests : IDisposable
{
    private readonly TempDirectory data = IdxWriter.MnistSubset(trainCount: 300, testCount: 100);
    private readonly TempDirectory folder = new();

    public void Dispose()
    {
        data.Dispose();
        folder.Dispose();
    }

    /// <summary>Every command that reads a checkpoint.</summary>
    public static TheoryData<string> Readers => ["train --resume", "evaluate", "predict", "export", "report", "serve"];

    [Theory]
    [InlineData("--batch-size 2147483647", "mnistgpu: --batch-size must be at most 1,073,741,824, got 2147483647")]
    [InlineData("--batch-size 1073741825", "mnistgpu: --batch-size must be at most 1,073,741,824, got 1073741825")]
    [InlineData("--epochs 2147483647", "mnistgpu: --epochs must be at most 1,000,000, got 2147483647")]
    [InlineData("--layers conv2147483647x2147483647:4:same,flatten", "mnistgpu: layer 1 (conv2147483647x2147483647:4:same): a 'same' kernel is at most 55x55 on a 28x28x1 input")]
    [InlineData("--layers conv56x56:4:same,flatten", "mnistgpu: layer 1 (conv56x56:4:same): a 'same' kernel is at most 55x55")]
    [InlineData("--layers conv3x3:2147483647:same,conv3x3:2147483647:same,flatten", "mnistgpu: a 28x28x2147483647 layer (conv3x3:2147483647:same) has more values per image than one array holds")]
    [InlineData("--layers 2147483647,2147483647,2147483647,2147483647,2147483647", "mnistgpu: a 784-2147483647-2147483647-2147483647-2147483647-2147483647-10 network has more parameters than a 64-bit count holds")]
    [InlineData("--layers conv3x3:8:same:valid,flatten", "mnistgpu: conv3x3:8:same:valid: 'same' and 'valid' contradict each other; give the padding once")]
    [InlineData("--layers conv3x3:8:linear:relu,flatten", "mnistgpu: conv3x3:8:linear:relu: 'linear' and 'relu' contradict each other; give the activation once")]
    [InlineData("--layers conv3x3:8:same:same,flatten", "mnistgpu: conv3x3:8:same:same: 'same' is given twice; give the padding once")]
    public void A_size_that_would_overflow_or_contradicts_itself_is_refused_before_the_device_opens(string arguments, string expected)
    {
        string save = folder.File("m.ckpt");
        var result = CliRun.Run(["train", "--device", "host", "--data", data.Path, "--save", save, .. arguments.Split(' ')]);
        Assert.Equal(2, result.Code);
        OneLine.Expect(result.Error, expected);
        Assert.DoesNotContain("Device:", result.Diagnostics);
        Assert.Empty(Directory.GetFileSystemEntries(folder.Path));
    }

    [Fact]
    public void A_batch_larger_than_the_set_is_still_one_batch()
    {
        var (code, output, error) = CliRun.Run(["train", "--device", "host", "--data", data.Path, "--epochs", "1", "--hidden", "16", "--batch-size", "1073741824", "--no-progress"]);
        Assert.Equal("", error);
        Assert.Equal(0, code);
        Assert.Contains("1/1 - ", output);
    }

    [Theory]
    [MemberData(nameof(Readers))]
    public void A_checkpoint_with_an_overflowing_batch_size_or_kernel_is_refused_by_every_reader(string reader)
    {
        foreach (var (name, edit, expected) in new (string, Action<System.Text.Json.Nodes.JsonObject>, string)[]
        {
            ("batch.ckpt", json => json["settings"]!["batchSize"] = int.MaxValue, "batch size must be from 1 to 1,073,741,824, got 2,147,483,647"),
            ("kernel.ckpt", json => json["layers"] = new System.Text.Json.Nodes.JsonArray("conv2147483647x2147483647:4:same", "flatten"), "a 'same' kernel is at most 55x55"),
        })
        {
            string model = folder.File(name);
            File.WriteAllBytes(model, CraftedCheckpoint.WithMetadata(SmallModel.Bytes, edit));
            var result = CliRun.Run(ReaderArguments(reader, model));
            Assert.Equal(2, result.Code);
            OneLine.Expect(result.Error, $"mnistgpu: {model}: the checkpoint's metadata makes no sense: ");
            Assert.Contains(expected, result.Error);
            Assert.DoesNotContain("Device:", result.Diagnostics);
        }
    }

    [Fact]
    public void A_metadata_length_of_2_GiB_is_refused_after_the_header()
    {
        foreach (uint length in new[] { 0x8000_0000u, 0x7FFF_FFFFu, 0xFFFF_FFFFu })
        {
            string model = folder.File($"{length:x}.ckpt");
            using (var file = File.Create(model))
            {
                file.Write("MNGPUCKP"u8);
                var header = new byte[8];
                BinaryPrimitives.WriteUInt32LittleEndian(header, 3);
                BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(4), length);
                file.Write(header);
                file.SetLength(length + 4096L);
            }

            var result = CliRun.Run(["evaluate", "--model", model, "--data", data.Path, "--device", "host"]);
            Assert.Equal(2, result.Code);
            OneLine.Expect(result.Error, $"mnistgpu: {model}: its metadata is {length:N0} bytes; a checkpoint's metadata is at most 268,435,456");
        }
    }

    [Fact]
    public void A_file_of_6_GB_whose_metadata_explains_nothing_is_refused_without_reading_its_arrays()
    {
        string model = folder.File("sparse.ckpt");
        using (var file = File.Create(model))
        {
            var start = new byte[16 + 2 + 8];
            "MNGPUCKP"u8.CopyTo(start);
            BinaryPrimitives.WriteUInt32LittleEndian(start.AsSpan(8), 3);
            BinaryPrimitives.WriteUInt32LittleEndian(start.AsSpan(12), 2);
            "{}"u8.CopyTo(start.AsSpan(16));
            BinaryPrimitives.WriteUInt32LittleEndian(start.AsSpan(18), 500_000_000);
            BinaryPrimitives.WriteUInt32LittleEndian(start.AsSpan(22), 2);
            file.Write(start);
            file.SetLength(start.Length + 4L * 500_000_000 * 3 + 32);
        }

        var clock = Stopwatch.StartNew();
        long before = GC.GetAllocatedBytesForCurrentThread();
        var error = Assert.Throws<MnistGpu.Engine.UserInputException>(() => Checkpoint.Load(model));
        Assert.InRange(GC.GetAllocatedBytesForCurrentThread() - before, 0, 1 << 20);
        Assert.InRange(clock.Elapsed, TimeSpan.Zero, TimeSpan.FromSeconds(10));
        Assert.Contains("unreadable metadata", error.Message);
    }

    [Fact]
    public void A_checkpoint_whose_arrays_its_metadata_does_not_explain_is_refused_before_they_are_allocated()
    {
        // The metadata is the small model's (64 hidden units); the counts say 20,000 wide.
        var bytes = SmallModel.Bytes;
        int metadata = BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(12));
        const int Parameters = 784 * 20_000 + 20_000 + 20_000 * 10 + 10;
        var crafted = new byte[16 + metadata + 12 + 4L * Parameters * 2 + 32];
        bytes.AsSpan(0, 16 + metadata).CopyTo(crafted);
        BinaryPrimitives.WriteUInt32LittleEndian(crafted.AsSpan(16 + metadata), Parameters);
        BinaryPrimitives.WriteUInt32LittleEndian(crafted.AsSpan(16 + metadata + 4), 1);
        string model = folder.File("wide.ckpt");
        File.WriteAllBytes(model, crafted);
        crafted = [];

        long before = GC.GetAllocatedBytesForCurrentThread();
        var error = Assert.Throws<MnistGpu.Engine.UserInputException>(() => Checkpoint.Load(model));
        Assert.InRange(GC.GetAllocatedBytesForCurrentThread() - before, 0, 1 << 20);
        Assert.Contains($"{Parameters} parameters stored, but a 784-64-10 network has 50890", error.Message);
    }

    [Fact]
    public void A_memory_limit_too_small_says_what_the_limit_is_and_what_the_device_has_free()
    {
        var result = CliRun.Run(["train", "--device", "host", "--data", data.Path, "--memory-limit", "1MB"]);
        Assert.Equal(2, result.Code);
        OneLine.Expect(result.Error, "mnistgpu: host");
        Assert.Matches(@"over --memory-limit: this needs [\d,]+ bytes \(.*\); the limit is 1,048,576 bytes, of which 1,048,576 are left, and the device has [\d,]+ free$", result.Error.TrimEnd());
    }

    [Theory]
    [InlineData("--layers", 'x', 100_000)]
    [InlineData("--device", 'y', 100_000)]
    [InlineData("--data", 'z', 4_000)]
    public void A_long_value_is_shortened_in_the_message_to_its_ends_and_its_length(string option, char letter, int length)
    {
        var result = CliRun.Run(["train", option, new string(letter, length)]);
        Assert.Equal(2, result.Code);
        OneLine.Expect(result.Error, "mnistgpu: ");
        Assert.InRange(result.Error.Length, 1, 1_200);
        Assert.Matches($@"…{letter}{{40}}.* \({length / 1000},\d{{3}} characters\)", result.Error);
    }

    [Fact]
    public void Many_short_words_are_shortened_as_one_line_with_its_length()
    {
        var result = CliRun.Run(["train", "--layers", string.Join(' ', Enumerable.Repeat("1", 50_000))]);
        Assert.Equal(2, result.Code);
        OneLine.Expect(result.Error, "mnistgpu: --layers must be");
        Assert.InRange(result.Error.Length, 1, 1_200);
        Assert.Contains(" characters) … ", result.Error);
    }

    [Fact]
    public void A_second_training_saving_to_the_same_checkpoint_is_refused_and_a_killed_one_blocks_nobody()
    {
        string save = folder.File("shared.ckpt");
        using (var first = RunnerProcess.Start("train", "--device", "host", "--data", data.Path, "--hidden", "16", "--epochs", "100000", "--save", save, "--no-progress"))
        {
            Assert.StartsWith("Epoch 1/", first.StandardOutput.ReadLine());
            var second = CliRun.Run(["train", "--device", "host", "--data", data.Path, "--epochs", "1", "--save", save]);
            Assert.Equal(2, second.Code);
            OneLine.Expect(second.Error, $"mnistgpu: --save {save}: another training (process {first.Id}) is saving to this checkpoint (its lock is {save}.lock)");
            Assert.DoesNotContain("Device:", second.Diagnostics);
            var resumed = CliRun.Run(["train", "--device", "host", "--data", data.Path, "--resume", save, "--epochs", "100001"]);
            Assert.Equal(2, resumed.Code);
            OneLine.Expect(resumed.Error, $"mnistgpu: --resume {save}: another training (process {first.Id})");

            first.Kill();
            first.WaitForExit();
        }

        Assert.True(File.Exists(save + ".lock"), "a killed run leaves its lock file, which must not block the next");
        var third = CliRun.Run(["train", "--device", "host", "--data", data.Path, "--epochs", "1", "--hidden", "16", "--save", save]);
        Assert.Equal("", third.Error);
        Assert.Equal(0, third.Code);
        Assert.False(File.Exists(save + ".lock"), "the lock file is removed when its run ends");
    }

    [Fact]
    public void No_output_may_be_the_checkpoint_s_lock_file_which_goes_when_the_run_ends()
    {
        string save = folder.File("m.ckpt");
        var result = CliRun.Run(["train", "--device", "host", "--data", data.Path, "--save", save, "--json", save + ".lock"]);
        Assert.Equal(2, result.Code);
        OneLine.Expect(result.Error, $"mnistgpu: --json {save}.lock: is the same file as --save's lock file {save}.lock");
        Assert.Empty(Directory.GetFileSystemEntries(folder.Path));
    }

    [Fact]
    public async Task The_first_of_several_stop_signals_decides_the_exit_code()
    {
        string save = folder.File("stopped.ckpt");
        using var process = RunnerProcess.Start("train", "--device", "host", "--data", data.Path, "--hidden", "16", "--epochs", "100000", "--save", save, "--no-progress");
        var error = process.StandardError.ReadToEndAsync();
        Assert.StartsWith("Epoch 1/", process.StandardOutput.ReadLine());
        foreach (string signal in new[] { "TERM", "TERM", "INT" })
        {
            RunnerProcess.Signal(process, signal);
        }

        process.StandardOutput.ReadToEnd();
        Assert.True(process.WaitForExit(60_000), "the run did not stop");
        Assert.Equal(143, process.ExitCode);
        Assert.Contains($"checkpoint written to {save}", await error);
    }

    private string[] ReaderArguments(string reader, string model) => reader switch
    {
        "train --resume" => ["train", "--resume", model, "--data", data.Path, "--device", "host"],
        "evaluate" => ["evaluate", "--model", model, "--data", data.Path, "--device", "host"],
        "predict" => ["predict", "--model", model, "--device", "host", DigitPictures.LightOnDark(folder, 0, "seven.png")],
        "export" => ["export", "--model", model, "--onnx", folder.File("m.onnx")],
        "report" => ["report", "--model", model, "--previews", folder.File("previews"), "--data", data.Path, "--device", "host"],
        _ => ["serve", "--model", model, "--device", "host", "--port", "0"],
    };
}
