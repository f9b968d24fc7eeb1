using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using MnistGpu.Engine;
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
        Assert.Equal(original.MeanSquares, loaded.MeanSquares);
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
        Assert.Contains("checksum mismatch", Refusal(path));
    }

    [Fact]
    public void A_checkpoint_with_one_flipped_bit_is_refused()
    {
        var bytes = SmallModel.Bytes.ToArray();
        bytes[bytes.Length / 2] ^= 0x10;
        Assert.Contains("checksum mismatch: the checkpoint is truncated or damaged", Refusal(Write(bytes)));
    }

    [Fact]
    public void A_newer_format_version_is_refused()
    {
        var bytes = SmallModel.Bytes.ToArray();
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(8), 2);
        Assert.Contains("checkpoint format version 2; this build reads version 1", Refusal(Write(bytes)));
    }

    [Fact]
    public void A_checkpoint_of_another_architecture_is_refused_even_with_a_valid_checksum()
    {
        var bytes = Resealed(SmallModel.Bytes, json => json.Replace(Checkpoint.Architecture, "conv-pool-dense", StringComparison.Ordinal));
        Assert.Contains("checkpoint of a 'conv-pool-dense' network", Refusal(Write(bytes)));
    }

    [Fact]
    public void A_checkpoint_whose_parameters_do_not_fit_its_shape_is_refused()
    {
        var bytes = Resealed(SmallModel.Bytes, json => json.Replace("\"hidden\":64", "\"hidden\":65", StringComparison.Ordinal));
        Assert.Contains("parameters stored, but a 784-65-10 network has", Refusal(Write(bytes)));
    }

    [Fact]
    public void Something_else_entirely_is_refused()
    {
        Assert.Contains("not an MnistGpu checkpoint", Refusal(Write(Encoding.UTF8.GetBytes("PK\u0003\u0004 this is a zip file, honest"))));
        Assert.Contains("not an MnistGpu checkpoint", Refusal(Write([])));
        Assert.Contains("cannot read checkpoint", Refusal(folder.File("absent.ckpt")));
    }

    private string Write(byte[] bytes)
    {
        string path = folder.File(Guid.NewGuid().ToString("N") + ".ckpt");
        File.WriteAllBytes(path, bytes);
        return path;
    }

    private static string Refusal(string path) => Assert.Throws<UserInputException>(() => Checkpoint.Load(path)).Message;

    /// <summary>The checkpoint with its metadata edited and a fresh, valid checksum: only the content check can refuse it.</summary>
    private static byte[] Resealed(byte[] bytes, Func<string, string> edit)
    {
        int length = (int)BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(12));
        string json = edit(Encoding.UTF8.GetString(bytes, 16, length));
        byte[] metadata = Encoding.UTF8.GetBytes(json);
        var result = new List<byte>();
        result.AddRange(bytes[..12]);
        result.AddRange(BitConverter.GetBytes((uint)metadata.Length));
        result.AddRange(metadata);
        result.AddRange(bytes[(16 + length)..^32]);
        result.AddRange(SHA256.HashData(result.ToArray()));
        return result.ToArray();
    }
}
