using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text.Json;
using MnistGpu.Engine.IO;
using MnistGpu.Engine.Model;

namespace MnistGpu.Engine.Training;

/// <summary>Where training stands: enough to continue bit-for-bit (docs/checkpoint-format.md).</summary>
/// <param name="EpochsDone">Epochs completed.</param>
/// <param name="StepsDoneInEpoch">Steps of epoch EpochsDone + 1 already trained (0 at an epoch boundary).</param>
/// <param name="PartialLossSum">Sum of the per-sample losses of those steps, so the epoch's mean stays exact.</param>
/// <param name="PartialCorrect">Correct predictions among those steps' samples.</param>
public sealed record TrainingPosition(int EpochsDone, int StepsDoneInEpoch, double PartialLossSum, int PartialCorrect)
{
    public static TrainingPosition Start { get; } = new(0, 0, 0, 0);
}

/// <summary>
/// A trained (or partly trained) network with everything needed to continue training it: the
/// weights, the RMSprop state, the hyperparameters, the position reached and the history, and a
/// hash of the training data. The shuffle of epoch e is derived from (seed, e) alone, so the seed
/// is the whole random state. Device-independent: plain float32 arrays.
/// </summary>
public sealed record Checkpoint(
    NetworkShape Shape,
    TrainingSettings Settings,
    TrainingPosition Position,
    IReadOnlyList<EpochResult> History,
    string DataHash,
    float[] Parameters,
    float[] MeanSquares)
{
    public const int FormatVersion = 1;

    /// <summary>The one architecture this build trains; a checkpoint of another cannot be loaded.</summary>
    public const string Architecture = "dense-relu-dense-softmax";

    private static readonly byte[] Magic = "MNGPUCKP"u8.ToArray();
    private const int HashLength = 32;

    private static readonly JsonSerializerOptions JsonOptions = new() { PropertyNamingPolicy = JsonNamingPolicy.CamelCase };

    /// <summary>Writes atomically (<see cref="AtomicFile"/>): an interrupted write never leaves a damaged checkpoint.</summary>
    /// <exception cref="UserInputException">The folder cannot be written.</exception>
    public void Save(string path) => AtomicFile.Write(path, Encode());

    /// <exception cref="UserInputException">Missing, truncated, damaged, of another version or architecture.</exception>
    public static Checkpoint Load(string path)
    {
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UserInputException($"cannot read checkpoint {path}: {e.Message}", e);
        }

        try
        {
            return Decode(bytes);
        }
        catch (InvalidDataException e)
        {
            throw new UserInputException($"{path}: {e.Message}", e);
        }
    }

    internal byte[] Encode()
    {
        var metadata = JsonSerializer.SerializeToUtf8Bytes(
            new Metadata(Architecture, Shape.Inputs, Shape.Hidden, Shape.Classes, Settings, Position, History, DataHash), JsonOptions);
        int count = Parameters.Length;
        var bytes = new byte[Magic.Length + 4 + 4 + metadata.Length + 4 + 8 * count + HashLength];
        var writer = new SpanWriter(bytes);
        writer.Bytes(Magic);
        writer.UInt32(FormatVersion);
        writer.UInt32((uint)metadata.Length);
        writer.Bytes(metadata);
        writer.UInt32((uint)count);
        writer.Floats(Parameters);
        writer.Floats(MeanSquares);
        SHA256.HashData(bytes.AsSpan(0, writer.Position), bytes.AsSpan(writer.Position));
        return bytes;
    }

    internal static Checkpoint Decode(byte[] bytes)
    {
        int headerLength = Magic.Length + 8;
        if (bytes.Length < headerLength + 4 + HashLength || !bytes.AsSpan(0, Magic.Length).SequenceEqual(Magic))
            throw new InvalidDataException("not an MnistGpu checkpoint (no MNGPUCKP header)");
        uint version = BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(Magic.Length));
        if (version != FormatVersion)
            throw new InvalidDataException($"checkpoint format version {version}; this build reads version {FormatVersion}");
        var expected = SHA256.HashData(bytes.AsSpan(0, bytes.Length - HashLength));
        if (!expected.AsSpan().SequenceEqual(bytes.AsSpan(bytes.Length - HashLength)))
            throw new InvalidDataException("checksum mismatch: the checkpoint is truncated or damaged");

        uint metadataLength = BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(Magic.Length + 4));
        if (metadataLength > bytes.Length - headerLength - 4 - HashLength)
            throw new InvalidDataException("metadata length runs past the end of the file");
        Metadata metadata;
        try
        {
            metadata = JsonSerializer.Deserialize<Metadata>(bytes.AsSpan(headerLength, (int)metadataLength), JsonOptions)
                ?? throw new InvalidDataException("empty metadata");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"unreadable metadata: {e.Message}", e);
        }

        if (metadata.Architecture != Architecture)
            throw new InvalidDataException($"checkpoint of a '{metadata.Architecture}' network; this build runs '{Architecture}'");
        if (metadata.Inputs < 1 || metadata.Hidden < 1 || metadata.Classes < 2 || metadata.Settings is null || metadata.Position is null)
            throw new InvalidDataException("checkpoint metadata is incomplete");
        var shape = new NetworkShape(metadata.Inputs, metadata.Hidden, metadata.Classes);
        try
        {
            metadata.Settings.Validate();
        }
        catch (UserInputException e)
        {
            throw new InvalidDataException($"checkpoint settings are invalid: {e.Message}", e);
        }

        int offset = headerLength + (int)metadataLength;
        long count = BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(offset));
        if (count != shape.ParameterCount)
            throw new InvalidDataException($"{count} parameters stored, but a {shape} network has {shape.ParameterCount}");
        if (offset + 4 + 8 * count + HashLength != bytes.Length)
            throw new InvalidDataException("parameter block does not match the file length");

        var parameters = new float[count];
        var meanSquares = new float[count];
        CopyFloats(bytes.AsSpan(offset + 4), parameters);
        CopyFloats(bytes.AsSpan(offset + 4 + 4 * (int)count), meanSquares);
        return new Checkpoint(shape, metadata.Settings, metadata.Position, metadata.History ?? [], metadata.DataHash ?? "", parameters, meanSquares);
    }

    private static void CopyFloats(ReadOnlySpan<byte> source, Span<float> target)
    {
        for (int i = 0; i < target.Length; i++)
            target[i] = BinaryPrimitives.ReadSingleLittleEndian(source.Slice(4 * i));
    }

    private sealed record Metadata(
        string Architecture, int Inputs, int Hidden, int Classes, TrainingSettings Settings, TrainingPosition Position,
        IReadOnlyList<EpochResult> History, string DataHash);

    private ref struct SpanWriter(Span<byte> target)
    {
        private readonly Span<byte> target = target;

        public int Position { get; private set; }

        public void Bytes(ReadOnlySpan<byte> bytes)
        {
            bytes.CopyTo(target.Slice(Position));
            Position += bytes.Length;
        }

        public void UInt32(uint value)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(target.Slice(Position), value);
            Position += 4;
        }

        public void Floats(ReadOnlySpan<float> values)
        {
            foreach (float value in values)
            {
                BinaryPrimitives.WriteSingleLittleEndian(target.Slice(Position), value);
                Position += 4;
            }
        }
    }
}
