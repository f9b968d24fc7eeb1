using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;

namespace MnistGpu.Tests.Support;

/// <summary>
/// Checkpoint bytes edited the way an attacker would: the metadata or the floats changed and a
/// fresh, valid SHA-256 appended, so only the checks of meaning can refuse them.
/// </summary>
internal static class CraftedCheckpoint
{
    private const int HeaderLength = 16;

    /// <summary>The counts before the floats: format 4's parameter count, number of optimizer state arrays and layer state values; formats 2 and 3 have the first two.</summary>
    private static int Counts(byte[] bytes) => BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(8)) >= 4 ? 12 : 8;

    /// <summary>The checkpoint with its metadata JSON edited and resealed.</summary>
    public static byte[] WithMetadata(byte[] bytes, Action<JsonObject> edit)
    {
        var (metadata, parameters) = Split(bytes);
        var json = JsonNode.Parse(metadata)!.AsObject();
        edit(json);
        return Seal(bytes[..12], Encoding.UTF8.GetBytes(json.ToJsonString()), parameters);
    }

    /// <summary>The checkpoint with its metadata's text edited and resealed: for what a JSON object cannot hold, such as a key written twice.</summary>
    public static byte[] WithMetadataText(byte[] bytes, Func<string, string> edit)
    {
        var (metadata, parameters) = Split(bytes);
        return Seal(bytes[..12], Encoding.UTF8.GetBytes(edit(Encoding.UTF8.GetString(metadata))), parameters);
    }

    /// <summary>The checkpoint with float <paramref name="index"/> of its parameters (or, past them, of its optimizer state) set to <paramref name="value"/>.</summary>
    public static byte[] WithFloat(byte[] bytes, int index, float value)
    {
        var (metadata, parameters) = Split(bytes);
        BinaryPrimitives.WriteSingleLittleEndian(parameters.AsSpan(Counts(bytes) + 4 * index), value);
        return Seal(bytes[..12], metadata, parameters);
    }

    /// <summary>The checkpoint of a network with <paramref name="classes"/> classes: the metadata says so and the arrays are cut to match.</summary>
    public static byte[] WithClasses(byte[] bytes, int classes)
    {
        var (metadata, arrays) = Split(bytes);
        var json = JsonNode.Parse(metadata)!.AsObject();
        int inputs = (int)json["inputs"]!;
        var widths = json["layers"]!.AsArray().Select(w => (int)w!).Append(classes).ToList();
        int count = BinaryPrimitives.ReadInt32LittleEndian(arrays);
        int stateArrays = BinaryPrimitives.ReadInt32LittleEndian(arrays.AsSpan(4));
        int newCount = 0, previous = inputs;
        foreach (int width in widths)
            (newCount, previous) = (newCount + (previous + 1) * width, width);
        json["classes"] = classes;
        int counts = Counts(bytes);
        var block = new byte[counts + 4 * newCount * (1 + stateArrays)];
        BinaryPrimitives.WriteInt32LittleEndian(block, newCount);
        BinaryPrimitives.WriteInt32LittleEndian(block.AsSpan(4), stateArrays);
        for (int a = 0; a <= stateArrays; a++)
            arrays.AsSpan(counts + 4 * count * a, 4 * newCount).CopyTo(block.AsSpan(counts + 4 * newCount * a));
        return Seal(bytes[..12], Encoding.UTF8.GetBytes(json.ToJsonString()), block);
    }

    /// <summary>A format-4 checkpoint of a network without layer state as format 3 wrote it: the version, and the counts without the layer state's.</summary>
    public static byte[] AsVersion3(byte[] bytes)
    {
        var (metadata, arrays) = Split(bytes);
        if (Counts(bytes) != 12 || BinaryPrimitives.ReadUInt32LittleEndian(arrays.AsSpan(8)) != 0)
            throw new ArgumentException("a format-4 checkpoint without layer state is needed", nameof(bytes));
        var header = bytes[..12];
        BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(8), 3);
        return Seal(header, metadata, [.. arrays[..8], .. arrays[12..]]);
    }

    private static (byte[] Metadata, byte[] Parameters) Split(byte[] bytes)
    {
        int length = BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(12));
        return (bytes[HeaderLength..(HeaderLength + length)], bytes[(HeaderLength + length)..^32]);
    }

    private static byte[] Seal(byte[] magicAndVersion, byte[] metadata, byte[] parameters)
    {
        var result = new List<byte>(magicAndVersion);
        result.AddRange(BitConverter.GetBytes((uint)metadata.Length));
        result.AddRange(metadata);
        result.AddRange(parameters);
        result.AddRange(SHA256.HashData(result.ToArray()));
        return result.ToArray();
    }
}
