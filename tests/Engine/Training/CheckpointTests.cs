using System.Buffers.Binary;
using System.Text;
using MnistGpu.Engine;
using MnistGpu.Engine.Model.Layers;
using MnistGpu.Engine.Training;
using MnistGpu.Tests.Support;

namespace MnistGpu.Tests.Engine.Training;

public sealed class CheckpointTests : IDisposable
{
    private readonly TempDirectory folder = new();

    public void Dispose() => folder.Dispose();

    [Fact]
    public void Save_then_load_gives_back_everything()
    {
        var original = SmallModel.Checkpoint;
        string path = folder.File("m.ckpt");
        original.Save(path);
        var loaded = Checkpoint.Load(path);

        Assert.Equal(original.Shape, loaded.Shape);
        Assert.Equal(original.Settings, loaded.Settings);
        Assert.Equal(original.Position, loaded.Position);
        Assert.Equal(original.DataHash, loaded.DataHash);
        Assert.Equal(original.History, loaded.History);
        Assert.Equal(original.Parameters, loaded.Parameters);
        Assert.Equal(original.OptimizerState, loaded.OptimizerState);
        Assert.Equal(original.OptimizerUpdates, loaded.OptimizerUpdates);
        Assert.Equal(Bundled.Mnist.Train.Take(3_000).ContentHash, loaded.DataHash);
        Assert.Empty(Directory.GetFiles(folder.Path, "*.tmp"));
    }

    [Fact]
    public void Saving_over_a_checkpoint_replaces_it_whole()
    {
        string path = folder.File("m.ckpt");
        File.WriteAllText(path, "an older, different file");
        SmallModel.Checkpoint.Save(path);
        Assert.Equal(SmallModel.Bytes, File.ReadAllBytes(path));
        Assert.Single(Directory.GetFiles(folder.Path));
    }

    [Fact]
    public void A_truncated_checkpoint_is_refused()
    {
        string path = Write(SmallModel.Bytes[..^100]);
        Assert.Contains("the file is truncated or damaged: it is ", Refusal(path));
    }

    [Fact]
    public void A_checkpoint_with_one_flipped_bit_is_refused()
    {
        var bytes = SmallModel.Bytes.ToArray();
        bytes[bytes.Length / 2] ^= 0x10;
        Assert.Contains("checksum mismatch: the checkpoint is truncated or damaged", Refusal(Write(bytes)));
    }

    [Fact]
    public void A_version_1_checkpoint_still_loads_and_evaluates_as_it_did()
    {
        // Saved by the last build that wrote version 1 (train --device host --hidden 8 --epochs 2
        // --seed 4); that build's evaluate printed test loss 0.3523, 8982 of 10,000 correct.
        var checkpoint = Checkpoint.Load(Path.Combine(Repository.Root, "tests", "Fixtures", "v1-784-8-10.ckpt"));

        Assert.Equal(new MnistGpu.Engine.Model.NetworkShape(784, 8, 10), checkpoint.Shape);
        Assert.Equal(MnistGpu.Engine.Model.OptimizerSettings.RmsProp, checkpoint.Settings.Optimizer);
        Assert.Single(checkpoint.OptimizerState);
        Assert.Equal(2 * 469, checkpoint.OptimizerUpdates);
        using var device = MnistGpu.Engine.Backends.IlgpuBackend.CreateCpuAccelerator();
        using var network = new TrainedNetwork(device, checkpoint);
        var evaluation = network.Evaluate(Bundled.Mnist.Test);
        Assert.Equal(8982, evaluation.Correct);
        Assert.Equal(0.3523, evaluation.Loss, 4);
    }

    [Fact]
    public void A_version_2_checkpoint_still_loads_and_evaluates_as_it_did()
    {
        // Saved by the last build that wrote version 2 (569c043: train --device host --layers 8,6
        // --optimizer adam --epochs 2 --seed 4); evaluated on cpu: test loss 0.4803, 8564 correct.
        var checkpoint = Checkpoint.Load(Path.Combine(Repository.Root, "tests", "Fixtures", "v2-784-8-6-10-adam.ckpt"));

        Assert.Equal(new MnistGpu.Engine.Model.NetworkShape(784, [8, 6], 10), checkpoint.Shape);
        Assert.Equal("adam", checkpoint.Settings.Optimizer.Name);
        Assert.Equal(2, checkpoint.OptimizerState.Count);
        Assert.Equal(2 * 469, checkpoint.OptimizerUpdates);
        using var device = MnistGpu.Engine.Backends.IlgpuBackend.CreateCpuAccelerator();
        using var network = new TrainedNetwork(device, checkpoint);
        var evaluation = network.Evaluate(Bundled.Mnist.Test);
        Assert.Equal(8564, evaluation.Correct);
        Assert.Equal(0.4803, evaluation.Loss, 4);
    }

    [Fact]
    public void A_convnet_checkpoint_is_version_4_and_loads_to_the_bit()
    {
        var settings = new TrainingSettings { Layers = MnistGpu.Engine.Model.Layers.LayerSpec.ParseList("conv3x3:4,maxpool,conv3x3:6:same,flatten,16"), BatchSize = 32, Epochs = 1 };
        var saved = CpuTraining.Train(Bundled.Mnist.Train.Take(256), settings, epochs: 1, from: null);
        var bytes = saved.Encode();
        Assert.Equal(4u, BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(8)));
        string json = System.Text.Encoding.UTF8.GetString(bytes, 16, (int)BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(12)));
        Assert.Contains("\"input\":[28,28,1],\"layers\":[\"conv3x3:4\",\"maxpool\",\"conv3x3:6:same\",\"flatten\",16]", json);

        var loaded = Checkpoint.Load(Write(bytes));
        Assert.Equal(saved.Shape, loaded.Shape);
        Assert.Equal(saved.Parameters, loaded.Parameters);
        Assert.Equal(saved.OptimizerState[0], loaded.OptimizerState[0]);
        Assert.Empty(loaded.LayerState);

        // What version 3 wrote for the same network still loads, to the same values.
        var version3 = Checkpoint.Load(Write(CraftedCheckpoint.AsVersion3(bytes)));
        Assert.Equal(saved.Parameters, version3.Parameters);
        Assert.Equal(saved.OptimizerState[0], version3.OptimizerState[0]);
        Assert.Equal(CraftedCheckpoint.AsVersion3(bytes), CraftedCheckpoint.AsVersion3(version3.Encode()));
    }

    [Fact]
    public void A_standardized_fan_in_run_keeps_its_input_scaling_and_initializer_and_other_runs_write_neither()
    {
        var subset = Bundled.Mnist.Train.Take(256);
        var settings = new TrainingSettings { Layers = [16], Standardize = true, Initializer = MnistGpu.Engine.Model.Layers.Initializer.FanInUniform, Seed = 2 };
        var saved = CpuTraining.Train(subset, settings, epochs: 1, from: null, () => new MnistGpu.Engine.Backends.Host.HostBackend());
        var loaded = Checkpoint.Load(Write(saved.Encode()));
        Assert.Equal(MnistGpu.Engine.Data.InputScaling.Standardizing(subset), loaded.Shape.Scaling);
        Assert.Equal(settings with { Epochs = 1 }, loaded.Settings);
        string metadata = Encoding.UTF8.GetString(saved.Encode());
        Assert.Contains("\"scaling\":{\"mean\":", metadata, StringComparison.Ordinal);
        Assert.Contains("\"initializer\":\"fan-in-uniform\"", metadata, StringComparison.Ordinal);

        string plain = Encoding.UTF8.GetString(SmallModel.Bytes);
        Assert.DoesNotContain("\"scaling\"", plain, StringComparison.Ordinal);
        Assert.DoesNotContain("\"initializer\"", plain, StringComparison.Ordinal);

        var meaningless = CraftedCheckpoint.WithMetadata(saved.Encode(), json => json["scaling"]!["deviation"] = 0);
        Assert.Contains("the checkpoint's metadata makes no sense: an input scaling needs a finite mean and a positive deviation, got mean", Refusal(Write(meaningless)));
        var unknown = CraftedCheckpoint.WithMetadata(saved.Encode(), json => json["settings"]!["initializer"] = "he-normal");
        Assert.Contains("the checkpoint's metadata makes no sense: --initializer takes glorot-uniform or fan-in-uniform, got 'he-normal'", Refusal(Write(unknown)));
    }

    [Fact]
    public void A_version_3_input_this_build_would_read_otherwise_is_refused()
    {
        var bytes = CraftedCheckpoint.WithMetadata(SmallModel.Bytes, json => json["input"] = new System.Text.Json.Nodes.JsonArray(1, 1, 784));
        Assert.Contains("input [1, 1, 784] is not how this build reads 784 inputs: [28, 28, 1]", Refusal(Write(bytes)));
    }

    [Fact]
    public void A_version_2_checkpoint_of_a_convolution_is_refused()
    {
        var bytes = File.ReadAllBytes(Path.Combine(Repository.Root, "tests", "Fixtures", "v2-784-8-6-10-adam.ckpt"));
        bytes = CraftedCheckpoint.WithMetadata(bytes, json => json["layers"]![0] = "conv3x3:8");
        Assert.Contains("a version-2 checkpoint holds dense layers only, not conv3x3:8,6", Refusal(Write(bytes)));
    }

    [Fact]
    public void A_checkpoint_whose_update_count_disagrees_with_its_history_is_refused()
    {
        var bytes = CraftedCheckpoint.WithMetadata(SmallModel.Bytes, json => json["optimizer"]!["updates"] = 5);
        Assert.Contains("the checkpoint's metadata makes no sense: 5 optimizer updates, but its history and position make 24 steps", Refusal(Write(bytes)));
    }

    [Fact]
    public void A_checkpoint_with_the_wrong_number_of_state_arrays_for_its_optimizer_is_refused()
    {
        var bytes = CraftedCheckpoint.WithMetadata(SmallModel.Bytes, json => json["optimizer"]!["name"] = "adam");
        Assert.Contains("1 optimizer state arrays stored, but Adam (lr 0.001", Refusal(Write(bytes)));
    }

    [Fact]
    public void A_newer_format_version_is_refused()
    {
        var bytes = SmallModel.Bytes.ToArray();
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(8), 6);
        Assert.Contains("checkpoint format version 6; this build reads versions 1 to 5", Refusal(Write(bytes)));

        // Version 5 is version 4 with the best epoch's weights: a file without them is not one.
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(8), 5);
        Assert.Contains("the file is truncated or damaged", Refusal(Write(bytes)));
    }

    [Fact]
    public void A_checkpoint_of_another_architecture_is_refused_even_with_a_valid_checksum()
    {
        var bytes = CraftedCheckpoint.WithMetadata(SmallModel.Bytes, json => json["architecture"] = "conv-pool-dense");
        Assert.Contains("checkpoint of a 'conv-pool-dense' network", Refusal(Write(bytes)));
    }

    [Fact]
    public void A_checkpoint_whose_parameters_do_not_fit_its_shape_is_refused()
    {
        var bytes = CraftedCheckpoint.WithMetadata(SmallModel.Bytes, json => json["layers"] = new System.Text.Json.Nodes.JsonArray(65));
        Assert.Contains("parameters stored, but a 784-65-10 network has", Refusal(Write(bytes)));
    }

    [Theory]
    [InlineData("stepsDoneInEpoch", -5, "stepsDoneInEpoch is -5")]
    [InlineData("epochsDone", -1, "epochsDone is -1, not in 0..1000000")]
    [InlineData("epochsDone", 2, "the history has 1 epochs, but 2 are done")]
    [InlineData("partialCorrect", 7, "partialCorrect is 7, but 0 steps of 128 were trained")]
    public void A_checksummed_checkpoint_whose_position_makes_no_sense_is_refused(string field, int value, string expected)
    {
        var bytes = CraftedCheckpoint.WithMetadata(SmallModel.Bytes, json => json["position"]![field] = value);
        Assert.Contains($"the checkpoint's metadata makes no sense: {expected}", Refusal(Write(bytes)));
    }

    [Theory]
    [InlineData(1000, float.NaN, "parameter 1000 (layer 1 (784->64) weight [15, 40]) is NaN")]
    [InlineData(50_176 + 3, float.PositiveInfinity, "parameter 50179 (layer 1 (784->64) bias [3]) is Infinity")]
    [InlineData(50_890 + 50_240 + 13, -1e-3f, "RMSprop mean square 50253 (layer 2 (64->10) weight [1, 3]) is -0.001")]
    public void A_checksummed_checkpoint_with_a_non_finite_value_is_refused_naming_its_place(int index, float value, string expected)
    {
        var bytes = CraftedCheckpoint.WithFloat(SmallModel.Bytes, index, value);
        Assert.Contains(expected, Refusal(Write(bytes)));
    }

    [Fact]
    public void A_checksummed_checkpoint_of_an_impossible_size_is_refused_before_anything_is_allocated()
    {
        var bytes = CraftedCheckpoint.WithMetadata(SmallModel.Bytes, json => json["layers"] = new System.Text.Json.Nodes.JsonArray(50_000_000));
        Assert.Contains("a 784-50000000-10 network has 39,750,000,010 parameters; one array holds at most", Refusal(Write(bytes)));
        var oneClass = CraftedCheckpoint.WithMetadata(SmallModel.Bytes, json => json["classes"] = 1);
        Assert.Contains("a network needs at least 1 input, at least one hidden layer of at least 1 unit, and 2 classes, not 784-64-1", Refusal(Write(oneClass)));
    }

    [Fact]
    public void A_large_random_file_is_refused_after_its_header_without_reading_it()
    {
        var random = new byte[100 << 20];
        new Random(1).NextBytes(random);
        string path = Write(random);
        random = [];
        long before = GC.GetAllocatedBytesForCurrentThread();
        Assert.Contains("not an MnistGpu checkpoint", Refusal(path));
        Assert.InRange(GC.GetAllocatedBytesForCurrentThread() - before, 0, 1 << 20);

        var valid = SmallModel.Bytes.ToArray();
        BinaryPrimitives.WriteUInt32LittleEndian(valid.AsSpan(16 + BinaryPrimitives.ReadInt32LittleEndian(valid.AsSpan(12))), 400_000_000);
        before = GC.GetAllocatedBytesForCurrentThread();
        Assert.Contains("but its header and array counts make 3,200,0", Refusal(Write(valid)));
        Assert.InRange(GC.GetAllocatedBytesForCurrentThread() - before, 0, 1 << 20);
    }

    [Fact]
    public void Something_else_entirely_is_refused()
    {
        Assert.Contains("not an MnistGpu checkpoint", Refusal(Write(Encoding.UTF8.GetBytes("PK\u0003\u0004 this is a zip file, honest"))));
        Assert.Contains("not an MnistGpu checkpoint", Refusal(Write([])));
        Assert.Contains("absent.ckpt: no such file", Refusal(folder.File("absent.ckpt")));
    }

    private string Write(byte[] bytes)
    {
        string path = folder.File(Guid.NewGuid().ToString("N") + ".ckpt");
        File.WriteAllBytes(path, bytes);
        return path;
    }

    private static string Refusal(string path) => Assert.Throws<UserInputException>(() => Checkpoint.Load(path)).Message;
}
