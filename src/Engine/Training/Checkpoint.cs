using System.Buffers.Binary;
using System.Globalization;
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

    /// <summary>
    /// Checks what can be checked without the data: every field in range and agreeing with the
    /// history. That the steps fit in an epoch of the data is checked on resuming.
    /// </summary>
    /// <exception cref="UserInputException">A field is out of range.</exception>
    internal void Validate(TrainingSettings settings, IReadOnlyList<EpochResult?> history)
    {
        if (EpochsDone < 0 || EpochsDone > TrainingSettings.MaxEpochs)
            throw new UserInputException($"epochsDone is {EpochsDone}, not in 0..{TrainingSettings.MaxEpochs}");
        if (StepsDoneInEpoch < 0)
            throw new UserInputException($"stepsDoneInEpoch is {StepsDoneInEpoch}");
        if (PartialCorrect < 0 || PartialCorrect > (long)StepsDoneInEpoch * settings.BatchSize)
            throw new UserInputException($"partialCorrect is {PartialCorrect}, but {StepsDoneInEpoch} steps of {settings.BatchSize} were trained");
        if (!double.IsFinite(PartialLossSum) || PartialLossSum < 0 || (StepsDoneInEpoch == 0 && PartialLossSum != 0))
            throw new UserInputException(string.Create(CultureInfo.InvariantCulture, $"partialLossSum is {PartialLossSum} after {StepsDoneInEpoch} steps"));
        if (history.Count != EpochsDone)
            throw new UserInputException($"the history has {history.Count} epochs, but {EpochsDone} are done");
        for (int i = 0; i < history.Count; i++)
        {
            if (history[i] is not { } epoch || epoch.Epoch != i + 1 || epoch.Steps < 1 || !IsLoss(epoch.Loss) || !IsFraction(epoch.Accuracy)
                || (epoch.TestLoss is double testLoss && !IsLoss(testLoss)) || (epoch.TestAccuracy is double testAccuracy && !IsFraction(testAccuracy)))
                throw new UserInputException($"history entry {i + 1} is not a finished epoch {i + 1} with a finite loss and an accuracy in [0, 1]");
        }
    }

    private static bool IsLoss(double value) => double.IsFinite(value) && value >= 0;

    private static bool IsFraction(double value) => value is >= 0 and <= 1;
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
    private const int HeaderLength = 16;
    private const int HashLength = 32;

    /// <summary>Room for the metadata in <see cref="FileBytes"/>: settings, position and a history of a thousand epochs.</summary>
    private const int MetadataAllowance = 256 << 10;

    private static readonly JsonSerializerOptions JsonOptions = new() { PropertyNamingPolicy = JsonNamingPolicy.CamelCase };

    /// <summary>Writes by the one output rule (<see cref="OutputFile"/>): an interrupted write never leaves a damaged checkpoint.</summary>
    /// <exception cref="UserInputException">The path is a folder or another kind of file that is never written.</exception>
    /// <exception cref="EngineException">Writing failed (disk full, I/O error).</exception>
    public void Save(string path) => OutputFile.Write(path, Encode());

    /// <summary>
    /// The size of this network's checkpoint file, to check for free space before training.
    /// The metadata grows with the history, so this allows generously for it.
    /// </summary>
    public static long FileBytes(NetworkShape shape) => HeaderLength + 4 + 8L * shape.ParameterCount + HashLength + MetadataAllowance;

    /// <summary>
    /// Reads and checks a checkpoint. Only a regular file is opened, and no more is read than the
    /// file's header and parameter count say it holds, so no file can make this allocate more
    /// than a checkpoint of its stated shape needs.
    /// </summary>
    /// <exception cref="UserInputException">Missing, not a regular file, truncated, damaged, of another version or architecture, or meaningless.</exception>
    public static Checkpoint Load(string path)
    {
        using var stream = InputFile.OpenRead(path, "a checkpoint", out long length);
        try
        {
            var header = new byte[HeaderLength];
            int got = stream.ReadAtLeast(header, HeaderLength, throwOnEndOfStream: false);
            uint metadataLength = ReadHeader(header.AsSpan(0, got));
            long countOffset = HeaderLength + (long)metadataLength;
            if (countOffset + 4 + HashLength > length)
                throw new InvalidDataException($"the file is truncated or damaged: its metadata runs past the end of the file ({length:N0} bytes)");
            var countBytes = new byte[4];
            stream.Position = countOffset;
            stream.ReadExactly(countBytes);
            long expected = countOffset + 4 + 8L * BinaryPrimitives.ReadUInt32LittleEndian(countBytes) + HashLength;
            if (expected != length)
                throw new InvalidDataException($"the file is truncated or damaged: it is {length:N0} bytes, but its header and parameter count make {expected:N0}");

            var bytes = new byte[length];
            stream.Position = 0;
            stream.ReadExactly(bytes);
            return Decode(bytes);
        }
        catch (InvalidDataException e)
        {
            throw new UserInputException($"{path}: {e.Message}", e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UserInputException($"{path}: cannot read: {e.Message}", e);
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
        uint metadataLength = ReadHeader(bytes.AsSpan(0, Math.Min(bytes.Length, HeaderLength)));
        if (bytes.Length < HeaderLength + 4 + HashLength)
            throw new InvalidDataException("the file is truncated or damaged: it is too short");
        var expected = SHA256.HashData(bytes.AsSpan(0, bytes.Length - HashLength));
        if (!expected.AsSpan().SequenceEqual(bytes.AsSpan(bytes.Length - HashLength)))
            throw new InvalidDataException("checksum mismatch: the checkpoint is truncated or damaged");
        if (metadataLength > bytes.Length - HeaderLength - 4 - HashLength)
            throw new InvalidDataException("metadata length runs past the end of the file");

        Metadata metadata;
        try
        {
            metadata = JsonSerializer.Deserialize<Metadata>(bytes.AsSpan(HeaderLength, (int)metadataLength), JsonOptions)
                ?? throw new InvalidDataException("empty metadata");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"unreadable metadata: {e.Message}", e);
        }

        if (metadata.Architecture != Architecture)
            throw new InvalidDataException($"checkpoint of a '{metadata.Architecture}' network; this build runs '{Architecture}'");
        if (metadata.Settings is null || metadata.Position is null)
            throw new InvalidDataException("checkpoint metadata is incomplete");
        var shape = new NetworkShape(metadata.Inputs, metadata.Hidden, metadata.Classes);
        IReadOnlyList<EpochResult?> history = metadata.History ?? [];
        try
        {
            shape.Validate();
            metadata.Settings.Validate();
            metadata.Position.Validate(metadata.Settings, history);
        }
        catch (UserInputException e)
        {
            throw new InvalidDataException($"the checkpoint's metadata makes no sense: {e.Message}", e);
        }

        int offset = HeaderLength + (int)metadataLength;
        long count = BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(offset));
        if (count != shape.ParameterCount)
            throw new InvalidDataException($"{count} parameters stored, but a {shape} network has {shape.ParameterCount}");
        if (offset + 4 + 8 * count + HashLength != bytes.Length)
            throw new InvalidDataException("parameter block does not match the file length");

        var parameters = new float[count];
        var meanSquares = new float[count];
        CopyFloats(bytes.AsSpan(offset + 4), parameters);
        CopyFloats(bytes.AsSpan(offset + 4 + 4 * (int)count), meanSquares);
        RequireFinite(shape, parameters, "parameter", mayBeNegative: true);
        RequireFinite(shape, meanSquares, "RMSprop mean square", mayBeNegative: false);
        return new Checkpoint(shape, metadata.Settings, metadata.Position, history.Select(e => e!).ToList(), metadata.DataHash ?? "", parameters, meanSquares);
    }

    /// <summary>The metadata length, after checking the magic and the version.</summary>
    private static uint ReadHeader(ReadOnlySpan<byte> header)
    {
        if (header.Length < HeaderLength || !header[..Magic.Length].SequenceEqual(Magic))
            throw new InvalidDataException("not an MnistGpu checkpoint (no MNGPUCKP header)");
        uint version = BinaryPrimitives.ReadUInt32LittleEndian(header[Magic.Length..]);
        if (version != FormatVersion)
            throw new InvalidDataException($"checkpoint format version {version}; this build reads version {FormatVersion}");
        return BinaryPrimitives.ReadUInt32LittleEndian(header[(Magic.Length + 4)..]);
    }

    /// <summary>A NaN or infinity anywhere would poison every later step or prediction; the first one is named with its place in the network.</summary>
    private static void RequireFinite(NetworkShape shape, float[] values, string what, bool mayBeNegative)
    {
        for (int i = 0; i < values.Length; i++)
        {
            float value = values[i];
            if (!float.IsFinite(value) || (!mayBeNegative && value < 0f))
                throw new InvalidDataException(string.Create(CultureInfo.InvariantCulture, $"{what} {i} ({shape.Locate(i)}) is {value}"));
        }
    }

    private static void CopyFloats(ReadOnlySpan<byte> source, Span<float> target)
    {
        for (int i = 0; i < target.Length; i++)
            target[i] = BinaryPrimitives.ReadSingleLittleEndian(source.Slice(4 * i));
    }

    private sealed record Metadata(
        string Architecture, int Inputs, int Hidden, int Classes, TrainingSettings? Settings, TrainingPosition? Position,
        IReadOnlyList<EpochResult?>? History, string? DataHash);

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
