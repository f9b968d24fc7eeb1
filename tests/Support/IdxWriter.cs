using System.Buffers.Binary;
using System.IO.Compression;

namespace MnistGpu.Tests.Support;

/// <summary>Writes IDX files (and MNIST-layout folders) for loader and command-line tests.</summary>
internal static class IdxWriter
{
    public static byte[] Encode(byte[] data, params int[] dimensions)
    {
        var bytes = new byte[4 + 4 * dimensions.Length + data.Length];
        bytes[2] = 0x08;
        bytes[3] = (byte)dimensions.Length;
        for (int i = 0; i < dimensions.Length; i++)
            BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(4 + 4 * i), dimensions[i]);
        data.CopyTo(bytes, 4 + 4 * dimensions.Length);
        return bytes;
    }

    public static byte[] Gzip(byte[] bytes)
    {
        using var memory = new MemoryStream();
        using (var gzip = new GZipStream(memory, CompressionLevel.Fastest))
            gzip.Write(bytes);
        return memory.ToArray();
    }

    /// <summary>A temporary folder holding the first samples of the bundled MNIST in its file layout.</summary>
    public static TempDirectory MnistSubset(int trainCount, int testCount)
    {
        var folder = new TempDirectory();
        var mnist = Bundled.Mnist;
        WriteSplit(folder.Path, "train", mnist.Train.Take(trainCount));
        WriteSplit(folder.Path, "t10k", mnist.Test.Take(testCount));
        return folder;
    }

    private static void WriteSplit(string folder, string prefix, MnistGpu.Engine.Data.LabeledImages split)
    {
        File.WriteAllBytes(Path.Combine(folder, $"{prefix}-images-idx3-ubyte.gz"), Gzip(Encode(split.Images, split.Count, split.Rows, split.Columns)));
        File.WriteAllBytes(Path.Combine(folder, $"{prefix}-labels-idx1-ubyte"), Encode(split.Labels, split.Count));
    }
}

internal sealed class TempDirectory : IDisposable
{
    public TempDirectory() => Directory.CreateDirectory(Path);

    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "mnistgpu-tests-" + Guid.NewGuid().ToString("N"));

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose() => Directory.Delete(Path, recursive: true);
}
