using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using MnistGpu.Engine.Model;
using MnistGpu.Engine.Training;
using MnistGpu.Tests.Support;

namespace MnistGpu.Tests.Runner;

/// <summary>
/// Nothing a user types loses their work (issue 20): an output never replaces an input or another
/// output, "@name" is a path, no run trains for nothing because of a file it writes at the end,
/// and every refusal is one line, before any work, with the inputs intact byte for byte and no
/// temporary file left.
/// </summary>
public sealed partial class LostWorkTests : IDisposable
{
    private readonly TempDirectory data = IdxWriter.MnistSubset(trainCount: 300, testCount: 100);
    private readonly TempDirectory folder = new();

    public void Dispose()
    {
        data.Dispose();
        folder.Dispose();
    }

    private string[] Small => ["--data", data.Path, "--epochs", "1", "--device", "host", "--hidden", "16", "--no-progress"];

    public static TheoryData<string, string> OutputsOverInputs => new()
    {
        { "export --model {model} --onnx {model}", "--onnx {model}: is the same file as --model {model}, which this command reads; an output may not replace an input" },
        { "export --model {model} --onnx {folder}/../{name}/model.ckpt", "--onnx {model}: is the same file as --model {model}, which this command reads" },
        { "export --model {model} --onnx {link}", "--onnx {link}: is the same file as --model {model}, which this command reads" },
        { "train {small} --save {new} --json {new}", "--json {new}: is the same file as --save {new}; give each output its own file" },
        { "train --data {data} --device host --resume {model} --json {model}", "--json {model}: is the same file as --resume {model}; give each output its own file" },
        { "train {small} --json {data}/train-images-idx3-ubyte.gz", "--json {data}/train-images-idx3-ubyte.gz: is the same file as --data {data}/train-images-idx3-ubyte.gz, which this command reads" },
        { "train {small} --save {data}/t10k-labels-idx1-ubyte", "--save {data}/t10k-labels-idx1-ubyte: is the same file as --data {data}/t10k-labels-idx1-ubyte, which this command reads" },
        { "train {small} --previews {folder}/p --save {folder}/p/misclassified.csv", "--previews {folder}/p/misclassified.csv: is the same file as --save {folder}/p/misclassified.csv" },
        { "train {small} --previews {folder}/p --json {folder}/p/report.html", "--previews {folder}/p/report.html: is the same file as --json {folder}/p/report.html" },
        { "train {small} --previews {folder}/p --save {folder}/p/first-layer-kernels.png", "--previews {folder}/p/first-layer-kernels.png: is the same file as --save {folder}/p/first-layer-kernels.png" },
        { "train {small} --previews {folder}/p --json {folder}/p/first-layer-feature-maps.png", "--previews {folder}/p/first-layer-feature-maps.png: is the same file as --json {folder}/p/first-layer-feature-maps.png" },
        { "train {small} --previews {folder}/p --save {folder}/p/misclassified/m.ckpt", "--save {folder}/p/misclassified/m.ckpt: lies in {folder}/p/misclassified, which --previews rewrites" },
        { "report --model {model} --data {data} --device host --previews {data}/..", "" },
        { "train {small} --validation-split 0.1 --save {new} --save-best {new}", "--save-best {new}: is the same file as --save {new}; give each output its own file" },
        { "train --data {data} --device host --resume {model} --save-best {link}", "--save-best {link}: is the same file as --resume {model}; give each output its own file" },
        { "train {small} --validation-split 0.1 --save-best {data}/t10k-labels-idx1-ubyte", "--save-best {data}/t10k-labels-idx1-ubyte: is the same file as --data {data}/t10k-labels-idx1-ubyte, which this command reads" },
        { "train {small} --validation-data {data} --json {folder}/../{name}/run.json --save-best {folder}/run.json", "--save-best {folder}/run.json: is the same file as --json {folder}/run.json; give each output its own file" },
        { "bench --data {data} --device host --hidden 16 --epochs 1 --json {data}/t10k-labels-idx1-ubyte", "--json {data}/t10k-labels-idx1-ubyte: is the same file as --data {data}/t10k-labels-idx1-ubyte, which this command reads" },
    };

    [SkippableTheory]
    [MemberData(nameof(OutputsOverInputs))]
    public void An_output_that_is_an_input_or_another_output_is_refused_before_any_work(string command, string expected)
    {
        Skip.If(Posix.NoFifos is not null, Posix.NoFifos);
        string model = SmallModel.WriteTo(folder);
        string link = folder.File("link.onnx");
        File.CreateSymbolicLink(link, model);
        Directory.CreateDirectory(folder.File("p/misclassified"));
        string Fill(string text) => text.Replace("{small}", string.Join(' ', Small), StringComparison.Ordinal)
            .Replace("{model}", model, StringComparison.Ordinal).Replace("{link}", link, StringComparison.Ordinal)
            .Replace("{new}", folder.File("new.ckpt"), StringComparison.Ordinal).Replace("{data}", data.Path, StringComparison.Ordinal)
            .Replace("{folder}", folder.Path, StringComparison.Ordinal).Replace("{name}", Path.GetFileName(folder.Path), StringComparison.Ordinal);
        var before = Snapshot();

        var (code, output, error) = CliRun.Run(Fill(command).Split(' '));

        if (expected.Length == 0)
        {
            // A previews folder beside the data writes only its own names: nothing to refuse.
            Assert.Equal(0, code);
            return;
        }

        Assert.Equal(2, code);
        AssertOneLine(error, "mnistgpu: " + Fill(expected));
        Assert.Equal("", output);
        Assert.Equal(before, Snapshot());
    }

    [Fact]
    public void Saving_back_to_the_checkpoint_resumed_is_the_default_and_may_be_named()
    {
        string model = TrainedHere();
        var (code, _, error) = CliRun.Run(["train", "--data", data.Path, "--device", "host", "--resume", model, "--save", model, "--epochs", "2", "--no-progress"]);
        Assert.Equal("", error);
        Assert.Equal(0, code);
        Assert.Equal(2, Checkpoint.Load(model).Position.EpochsDone);
    }

    [Theory]
    [InlineData("devices @/dev/urandom")]
    [InlineData("train @/dev/zero")]
    [InlineData("train @{itself}")]
    public void At_arguments_are_arguments_never_files_of_arguments(string command)
    {
        string itself = folder.File("itself");
        File.WriteAllText(itself, "@" + itself);
        var (code, output, error) = CliRun.Run(command.Replace("{itself}", itself, StringComparison.Ordinal).Split(' '));
        Assert.Equal(2, code);
        AssertOneLine(error, $"mnistgpu: {command.Split(' ')[0]} takes no argument '@");
        Assert.Equal("", output);
    }

    [Fact]
    public void A_checkpoint_named_with_an_at_sign_is_a_checkpoint()
    {
        string model = SmallModel.WriteTo(folder, "@base.ckpt");
        var (code, output, error) = CliRun.Run(["predict", "--model", model, "--device", "host", DigitPictures.LightOnDark(folder, 0, "seven.png")]);
        Assert.Equal("", error);
        Assert.Equal(0, code);
        Assert.Contains("seven.png: 7 (top 3:", output);
    }

    /// <summary>A network whose checkpoint (RMSprop: parameters and mean squares) is larger than any byte array: 2.16 GB.</summary>
    [Trait(Category.Name, Category.Slow)]
    [Fact]
    public void A_checkpoint_over_2_GiB_is_written_and_read_back()
    {
        var shape = new NetworkShape(784, [340_000], 10);
        var settings = new TrainingSettings { Layers = [340_000], Epochs = 1 };
        var parameters = new float[shape.ParameterCount];
        var squares = new float[shape.ParameterCount];
        for (int i = 0; i < parameters.Length; i += 4099)
            (parameters[i], squares[i]) = (i * 1e-9f, i * 1e-12f);
        string path = folder.File("big.ckpt");
        new Checkpoint(shape, settings, TrainingPosition.Start, [], new string('a', 64), parameters, [squares], 0).Save(path);
        Assert.True(new FileInfo(path).Length > int.MaxValue, $"{new FileInfo(path).Length} bytes");

        var loaded = Checkpoint.Load(path);
        Assert.Equal(parameters, loaded.Parameters);
        Assert.Equal(squares, loaded.OptimizerState[0]);
        Assert.Equal([path], Directory.GetFiles(folder.Path));
    }

    [Fact]
    public void A_large_sparse_file_given_as_a_checkpoint_is_one_line()
    {
        string path = folder.File("sparse.ckpt");
        using (var file = File.Create(path))
            file.SetLength(2_400_000_000);
        var (code, _, error) = CliRun.Run(["evaluate", "--model", path, "--data", data.Path, "--device", "host"]);
        Assert.Equal(2, code);
        AssertOneLine(error, $"mnistgpu: {path}: not an MnistGpu checkpoint (no MNGPUCKP header)");
    }

    [Fact]
    public void Divergence_is_one_line_and_json_never_fails_on_a_number()
    {
        using var oneBatch = IdxWriter.MnistSubset(trainCount: 100, testCount: 100);
        string json = folder.File("run.json");
        foreach (string command in new[] { "train", "bench" })
        {
            string[] args = [command, "--data", oneBatch.Path, "--device", "host", "--epochs", "1", "--layers", "32", "--learning-rate", "3e38", "--json", json];
            var (code, _, error) = CliRun.Run(command == "train" ? [.. args, "--no-progress"] : args);
            Assert.Equal(1, code);
            AssertOneLine(error, "mnistgpu: training diverged: the test loss became NaN after epoch 1");
            Assert.False(File.Exists(json));
        }
    }

    [SkippableFact]
    public async Task A_fifo_output_without_a_reader_gives_up_at_a_signal()
    {
        Skip.If(Posix.NoFifos is not null, Posix.NoFifos);
        string fifo = Posix.MakeFifo(folder.File("summary.json"));
        using var process = RunnerProcess.Start(["train", .. Small, "--json", fifo]);
        string? line;
        while ((line = process.StandardOutput.ReadLine()) is not null && !line.StartsWith("Test loss", StringComparison.Ordinal))
        {
        }

        Assert.NotNull(line);
        Thread.Sleep(300);
        // The signal may come before the write begins to wait (a loaded machine): any signal after
        // the run began ends the wait, so either way the runner stops.
        using (var kill = Process.Start("kill", $"-TERM {process.Id}"))
            kill.WaitForExit();
        var rest = process.StandardError.ReadToEndAsync();
        bool stopped = process.WaitForExit(30_000);
        if (!stopped)
            process.Kill();
        Assert.True(stopped, "the runner did not stop");
        Assert.Equal(143, process.ExitCode);
        Assert.Contains($"mnistgpu: cannot write {fifo}: stopped while waiting for a reader of the FIFO; nothing was written", await rest);
    }

    [Fact]
    public void A_name_of_250_characters_is_saved_and_leaves_no_temporary_file()
    {
        string path = folder.File(new string('c', 245) + ".ckpt");
        var (code, _, error) = CliRun.Run(["train", .. Small, "--save", path]);
        Assert.Equal("", error);
        Assert.Equal(0, code);
        Assert.Equal([path], Directory.GetFiles(folder.Path));
        Assert.Equal(1, Checkpoint.Load(path).Position.EpochsDone);
    }

    [Theory]
    [InlineData("report.html", true, "--previews {p}/report.html: is a directory; give a file name")]
    [InlineData("misclassified", false, "--previews {p}/misclassified: is a regular file, not a folder; the previews need a folder of that name")]
    public void A_previews_folder_whose_parts_cannot_be_written_is_refused_before_training(string part, bool makeFolder, string expected)
    {
        string previews = folder.File("p");
        Directory.CreateDirectory(previews);
        if (makeFolder)
            Directory.CreateDirectory(Path.Combine(previews, part));
        else
            File.WriteAllText(Path.Combine(previews, part), "a user's file");
        var (code, output, error) = CliRun.Run(["train", .. Small, "--previews", previews]);
        Assert.Equal(2, code);
        AssertOneLine(error, "mnistgpu: " + expected.Replace("{p}", previews, StringComparison.Ordinal));
        Assert.DoesNotContain("Epoch", output);
        Assert.Single(Directory.GetFileSystemEntries(previews));
    }

    [Fact]
    public void Verify_on_a_set_too_small_for_its_checks_is_one_line()
    {
        var (code, output, error) = CliRun.Run(["verify", "--device", "host", "--data", data.Path]);
        Assert.Equal(2, code);
        AssertOneLine(error, "mnistgpu: the checks need at least 2,000 training images of 28x28; this set has 300 of 28x28");
        Assert.Equal("", output);
    }

    [Fact]
    public void A_batch_larger_than_the_data_does_not_size_the_devices_arrays()
    {
        // 2,000,000 rows of 784 floats would be 6.3 GB; the 300 images need a few MB.
        var (code, output, error) = CliRun.Run(["train", "--data", data.Path, "--device", "cpu", "--hidden", "16", "--epochs", "1", "--batch-size", "2000000", "--memory-limit", "64MB", "--no-progress"]);
        Assert.Equal("", error);
        Assert.Equal(0, code);
        Assert.Contains("1/1 - ", output);
    }

    [Fact]
    public void Reporting_again_into_a_folder_removes_the_earlier_mistakes_and_keeps_a_users_files()
    {
        string previews = folder.File("p");
        string first = SmallModel.WriteTo(folder, "first.ckpt");
        Assert.Equal(0, CliRun.Run(["train", .. Small, "--save", folder.File("second.ckpt")]).Code);
        Assert.Equal(0, CliRun.Run(["report", "--model", folder.File("second.ckpt"), "--data", data.Path, "--device", "host", "--previews", previews]).Code);
        string mistakes = Path.Combine(previews, "misclassified");
        File.WriteAllText(Path.Combine(mistakes, "notes.png"), "a user's file");
        Assert.True(Directory.GetFiles(mistakes).Length > 40);

        var (code, _, error) = CliRun.Run(["report", "--model", first, "--data", data.Path, "--device", "host", "--previews", previews]);

        Assert.Equal("", error);
        Assert.Equal(0, code);
        int listed = File.ReadAllLines(Path.Combine(previews, "misclassified.csv")).Length - 1;
        var pictures = Directory.GetFiles(mistakes).Select(Path.GetFileName).ToList();
        Assert.Equal(listed + 1, pictures.Count);
        Assert.Contains("notes.png", pictures);
    }

    [SkippableFact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public void Resuming_keeps_the_checkpoints_mode_and_a_read_only_one_is_refused()
    {
        Skip.If(Posix.NoFifos is not null, Posix.NoFifos);
        string model = TrainedHere();
        File.SetUnixFileMode(model, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        Assert.Equal(0, CliRun.Run(["train", "--data", data.Path, "--device", "host", "--resume", model, "--epochs", "2", "--no-progress"]).Code);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(model));

        File.SetUnixFileMode(model, UnixFileMode.UserRead | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        var before = File.ReadAllBytes(model);
        var (code, output, error) = CliRun.Run(["train", "--data", data.Path, "--device", "host", "--resume", model, "--epochs", "3", "--no-progress"]);
        Assert.Equal(2, code);
        AssertOneLine(error, $"mnistgpu: --resume {model}: is read-only; it is not replaced (make it writable, or give another name)");
        Assert.Equal("", output);
        Assert.Equal(before, File.ReadAllBytes(model));
    }

    [Theory]
    [InlineData("missing beta2", "unreadable metadata: JSON deserialization for type 'MnistGpu.Engine.Training.Checkpoint+OptimizerRecord' was missing required properties including: 'beta2'.")]
    [InlineData("duration", "the checkpoint's metadata makes no sense: history entry 1 took -10675199.02:48:05.4775808, not a duration from 0 to 365 days")]
    [InlineData("duplicate key", "unreadable metadata: Duplicate property 'inputs'")]
    [InlineData("data hash", "the checkpoint's metadata makes no sense: dataHash is not a SHA-256 in 64 lowercase hex digits")]
    public void Checksum_valid_metadata_with_a_missing_twice_given_or_impossible_field_is_refused(string edit, string expected)
    {
        byte[] bytes = edit switch
        {
            "missing beta2" => CraftedCheckpoint.WithMetadata(SmallModel.Bytes, json => json["optimizer"]!.AsObject().Remove("beta2")),
            "duration" => CraftedCheckpoint.WithMetadata(SmallModel.Bytes, json => json["history"]![0]!["duration"] = TimeSpan.MinValue.ToString()),
            "data hash" => CraftedCheckpoint.WithMetadata(SmallModel.Bytes, json => json["dataHash"] = "not a hash"),
            _ => CraftedCheckpoint.WithMetadataText(SmallModel.Bytes, text => text.Replace("\"inputs\":784", "\"inputs\":784,\"inputs\":784", StringComparison.Ordinal)),
        };
        string model = folder.File("crafted.ckpt");
        File.WriteAllBytes(model, bytes);
        var (code, _, error) = CliRun.Run(["evaluate", "--model", model, "--data", data.Path, "--device", "host"]);
        Assert.Equal(2, code);
        AssertOneLine(error, $"mnistgpu: {model}: {expected}");
    }

    /// <summary>Layers are specs in a checkpoint's metadata since any registered kind may be saved: one no kind reads is refused.</summary>
    [Theory]
    [InlineData("pool9", "unreadable metadata: 'pool9' is not a layer: a width, or one of dense, conv, maxpool, flatten")]
    [InlineData("conv9", "the checkpoint's metadata makes no sense: a convolution is written conv<k>x<k>:<filters>")]
    [InlineData("dense:abc", "the checkpoint's metadata makes no sense: a dense layer's width is a whole number, not 'abc'")]
    public void A_checkpoints_layer_that_no_registered_kind_reads_is_refused(string layer, string expected)
    {
        string model = folder.File("crafted.ckpt");
        File.WriteAllBytes(model, CraftedCheckpoint.WithMetadata(SmallModel.Bytes, json => json["layers"]![0] = layer));
        var (code, _, error) = CliRun.Run(["evaluate", "--model", model, "--data", data.Path, "--device", "host"]);
        Assert.Equal(2, code);
        Assert.StartsWith($"mnistgpu: {model}: {expected}", error, StringComparison.Ordinal);
        Assert.Single(error.TrimEnd('\n').Split('\n'));
    }

    [Fact]
    public void A_repeated_layers_option_is_refused_like_a_repeated_hidden()
    {
        var (code, _, error) = CliRun.Run(["train", "--data", data.Path, "--layers", "32", "--layers", "64"]);
        Assert.Equal(2, code);
        AssertOneLine(error, "mnistgpu: Option '--layers' expects a single argument but 2 were provided (see mnistgpu train --help)");
    }

    [Fact]
    public void A_newline_in_a_pictures_name_cannot_forge_a_result_line()
    {
        string model = SmallModel.WriteTo(folder);
        string forged = folder.File("a\nfake.png: 9 (top 3: 9 100.0 %, 0 0.0 %, 1 0.0 %)");
        File.Copy(DigitPictures.LightOnDark(folder, 0, "seven.png"), forged);
        var (code, output, error) = CliRun.Run(["predict", "--model", model, "--device", "host", forged, folder.File("missing\n.png")]);
        Assert.Equal(2, code);
        var line = Assert.Single(output.TrimEnd().Split('\n'));
        Assert.StartsWith(folder.File("a\\nfake.png: 9 (top 3: 9 100.0 %, 0 0.0 %, 1 0.0 %): 7 (top 3: "), line, StringComparison.Ordinal);
        AssertOneLine(error, $"mnistgpu: {folder.File("missing\\n.png")}: no such file");
    }

    [Theory]
    [InlineData("train --device cpu --threads 2", "mnistgpu: --threads is for --device host; 'cpu' is cpu:0 (ILGPU CPU accelerator")]
    [InlineData("train --device host --memory-limit 1", "mnistgpu: host (")]
    [InlineData("kernels --device cpu --layers 2147483647", "mnistgpu: a 784-2147483647-10 network has 1,707,249,499,375 parameters; one array holds at most 2,147,483,591")]
    public void User_arguments_that_cannot_work_are_usage_errors(string command, string expected)
    {
        var (code, output, error) = CliRun.Run([.. command.Split(' '), .. command.StartsWith("train", StringComparison.Ordinal) ? new[] { "--data", data.Path, "--epochs", "1", "--no-progress" } : []]);
        Assert.Equal(2, code);
        AssertOneLine(error, expected);
        Assert.DoesNotContain("Epoch", output);
        if (command.Contains("memory-limit", StringComparison.Ordinal))
            Assert.Matches(@": over --memory-limit: this needs [\d,]+ bytes \(.*\); the limit is 1 bytes, of which 1 are left, and the device has [\d,]+ free$", error.TrimEnd());
    }

    [Trait(Category.Name, Category.Slow)]
    [Fact]
    public void A_signal_during_the_last_step_stops_before_the_evaluation_with_the_checkpoint_saved()
    {
        using var big = IdxWriter.MnistSubset(trainCount: 2_000, testCount: 10_000);
        string checkpoint = folder.File("m.ckpt");
        // One step per epoch of 2,000 digits, seconds long on the CPU accelerator: signalled during it.
        using var process = RunnerProcess.Start("train", "--device", "cpu", "--data", big.Path, "--hidden", "1024", "--batch-size", "2000", "--epochs", "1", "--save", checkpoint, "--no-progress");
        string? line = process.StandardOutput.ReadLine();
        Assert.Equal("Epoch 1/1", line);
        Thread.Sleep(200);
        using (var kill = Process.Start("kill", $"-TERM {process.Id}"))
            kill.WaitForExit();
        string output = process.StandardOutput.ReadToEnd();
        string error = process.StandardError.ReadToEnd();
        Assert.True(process.WaitForExit(120_000), "the runner did not stop");

        Assert.Equal(143, process.ExitCode);
        Assert.DoesNotContain("Test loss", output);
        Assert.Contains($"Interrupted: 1 epoch done; checkpoint written to {checkpoint}", error);
        Assert.Equal(1, Checkpoint.Load(checkpoint).Position.EpochsDone);
    }

    [Trait(Category.Name, Category.Slow)]
    [Fact]
    public void A_history_of_a_million_epochs_makes_a_report_of_bounded_size()
    {
        const int Epochs = 1_000_000;
        string model = folder.File("long.ckpt");
        var entries = string.Join(',', Enumerable.Range(1, Epochs).Select(e => string.Create(CultureInfo.InvariantCulture,
            $"{{\"epoch\":{e},\"steps\":24,\"loss\":{1.0 / e:R},\"accuracy\":0.5,\"duration\":\"00:00:00.1\",\"testLoss\":null,\"testAccuracy\":null}}")));
        File.WriteAllBytes(model, CraftedCheckpoint.WithMetadataText(SmallModel.Bytes, text =>
        {
            text = HistoryPattern().Replace(text, $"\"history\":[{entries}]");
            text = text.Replace("\"epochsDone\":1", $"\"epochsDone\":{Epochs}", StringComparison.Ordinal);
            return UpdatesPattern().Replace(text, $"\"updates\":{24L * Epochs}");
        }));
        string previews = folder.File("p");
        long before = GC.GetAllocatedBytesForCurrentThread();

        var (code, _, error) = CliRun.Run(["report", "--model", model, "--data", data.Path, "--device", "host", "--previews", previews]);

        Assert.Equal("", error);
        Assert.Equal(0, code);
        string page = File.ReadAllText(Path.Combine(previews, "report.html"));
        Assert.Contains("<p>200 of 1,000,000 epochs, evenly spaced, the last included.</p>", page, StringComparison.Ordinal);
        Assert.InRange(new FileInfo(Path.Combine(previews, "report.html")).Length, 1, 8 << 20);
        Assert.InRange(GC.GetAllocatedBytesForCurrentThread() - before, 0, 3L << 30);
    }

    /// <summary>
    /// Peak resident memory against the memory plan, in child processes, for the runs that
    /// allocate most: a training run that saves, a resumed one, and bench, whose phases each build
    /// a network. A tiny run's peak is the baseline: the runtime, the data, the code.
    /// </summary>
    [SkippableFact]
    [Trait(Category.Name, Category.Slow)]
    public void The_memory_plan_counts_what_a_host_run_reaches()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "peak memory is read from Linux's /proc");
        using var digits = IdxWriter.MnistSubset(trainCount: 1_000, testCount: 100);
        string checkpoint = folder.File("m.ckpt");
        string[] common = ["--data", digits.Path, "--device", "host"];
        var (baseCode, _, baseline) = RunnerProcess.RunMeasured(["train", .. common, "--epochs", "1", "--hidden", "8", "--no-progress"]);
        Assert.Equal(0, baseCode);
        var runs = new[]
        {
            new[] { "train", "--epochs", "1", "--layers", "5000,5000", "--save", checkpoint, "--no-progress" },
            new[] { "train", "--resume", checkpoint, "--epochs", "2", "--no-progress" },
            new[] { "bench", "--epochs", "1", "--layers", "5000,5000", "--optimizer", "adam" },
        };
        foreach (var run in runs)
        {
            string[] args = [run[0], .. common, .. run[1..]];
            var (_, refusal, _) = RunnerProcess.RunMeasured([.. args, "--memory-limit", "1"]);
            Assert.Matches(NeedsPattern(), refusal);
            long planned = long.Parse(NeedsPattern().Match(refusal).Groups[1].Value, NumberStyles.AllowThousands, CultureInfo.InvariantCulture);
            var (code, error, peak) = RunnerProcess.RunMeasured(args);
            Assert.True(code == 0, error);
            Assert.True(peak <= baseline + planned * 21 / 20, $"{string.Join(' ', run)}: peak {peak:N0} bytes, plan {planned:N0} + baseline {baseline:N0}");
        }
    }

    [GeneratedRegex(@"""history"":\[.*?\]")]
    private static partial Regex HistoryPattern();

    [GeneratedRegex(@"""updates"":\d+")]
    private static partial Regex UpdatesPattern();

    [GeneratedRegex(@"this needs ([\d,]+) bytes")]
    private static partial Regex NeedsPattern();

    /// <summary>A checkpoint of one epoch on this test's data, which it can resume.</summary>
    private string TrainedHere()
    {
        string model = folder.File("here.ckpt");
        Assert.Equal(0, CliRun.Run(["train", .. Small, "--save", model]).Code);
        return model;
    }

    /// <summary>Every file under the folders a test works in, with its bytes.</summary>
    private Dictionary<string, string> Snapshot() =>
        new[] { data.Path, folder.Path }.SelectMany(root => Directory.GetFiles(root, "*", SearchOption.AllDirectories))
            .ToDictionary(path => path, path => Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(path))));

    private static void AssertOneLine(string error, string expectedStart) => OneLine.Expect(error, expectedStart);
}
