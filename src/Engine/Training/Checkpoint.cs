using System.Buffers.Binary;
using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Serialization;
using MnistGpu.Engine.Data;
using MnistGpu.Engine.IO;
using MnistGpu.Engine.Model;
using MnistGpu.Engine.Model.Layers;

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
            if (epoch.Duration < TimeSpan.Zero || epoch.Duration > MaxEpochDuration)
                throw new UserInputException($"history entry {i + 1} took {epoch.Duration}, not a duration from 0 to {MaxEpochDuration.TotalDays:N0} days");
        }
    }

    /// <summary>Longer than any epoch will take, far from the TimeSpan limits that no summary can print as seconds.</summary>
    private static readonly TimeSpan MaxEpochDuration = TimeSpan.FromDays(365);

    private static bool IsLoss(double value) => double.IsFinite(value) && value >= 0;

    private static bool IsFraction(double value) => value is >= 0 and <= 1;
}

/// <summary>
/// A trained (or partly trained) network with everything needed to continue training it: the
/// weights, the optimizer and its state, the hyperparameters, the position reached and the
/// history, and a hash of the training data. The shuffle of epoch e is derived from (seed, e)
/// alone, so the seed is the whole random state. Device-independent: plain float32 arrays.
/// Format version 4 (docs/checkpoint-format.md): any stack of registered layer kinds and the
/// layers' untrained state; versions 3 (no layer state), 2 (dense stacks) and 1 (one hidden
/// layer, RMSprop) are still read.
/// </summary>
/// <param name="OptimizerState">The optimizer's arrays, each as long as <paramref name="Parameters"/>, in <see cref="OptimizerSettings.StateName"/>'s order.</param>
/// <param name="OptimizerUpdates">Updates applied so far: every step trained, across resumes.</param>
public sealed partial record Checkpoint(
    NetworkShape Shape,
    TrainingSettings Settings,
    TrainingPosition Position,
    IReadOnlyList<EpochResult> History,
    string DataHash,
    float[] Parameters,
    IReadOnlyList<float[]> OptimizerState,
    long OptimizerUpdates)
{
    /// <summary>The layers' untrained state (<see cref="NetworkShape.StateCount"/> values: BatchNormalization's moving statistics), layer after layer.</summary>
    public float[] LayerState { get; init; } = [];

    /// <summary>The best validation epoch so far, when the run validates; with early stopping it holds that epoch's weights, which make the file version <see cref="BestWeightsVersion"/>.</summary>
    public BestEpoch? Best { get; init; }

    public const int FormatVersion = 4;

    /// <summary>Version 4 with the best epoch's parameters and layer state after the layer state: written only when early stopping keeps them, so every other file stays version 4.</summary>
    public const int BestWeightsVersion = 5;

    /// <summary>What versions 3 and 4 call any stack of layers (each kind as its spec says) with a dense softmax layer last.</summary>
    public const string Architecture = "layers-softmax";

    /// <summary>Version 2's architecture: dense layers with ReLU between them and softmax at the end.</summary>
    private const string ArchitectureVersion2 = "dense-relu-softmax";

    /// <summary>Version 1's one architecture: one hidden layer.</summary>
    private const string ArchitectureVersion1 = "dense-relu-dense-softmax";

    private static readonly byte[] Magic = "MNGPUCKP"u8.ToArray();
    private const int HeaderLength = 16;
    private const int HashLength = 32;

    /// <summary>Room for the metadata in <see cref="FileBytes"/>: settings, position and a history of a thousand epochs.</summary>
    private const int MetadataAllowance = 256 << 10;

    /// <summary>
    /// The longest metadata read: 256 MiB, above what a history of <see cref="TrainingSettings.MaxEpochs"/>
    /// epochs takes (under 200 bytes each), far below what would make a header's length wrap or
    /// exhaust memory.
    /// </summary>
    public const int MaxMetadataBytes = 256 << 20;

    /// <summary>
    /// Strict reading: every field present (a missing beta2 is not 0), no field twice, no null
    /// where a value belongs; types are JSON's own (a number is never read from a string).
    /// </summary>
    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        AllowDuplicateProperties = false,
        RespectRequiredConstructorParameters = true,
        RespectNullableAnnotations = true,
    };

    /// <summary>Writes by the one output rule (<see cref="OutputFile"/>): an interrupted write never leaves a damaged checkpoint.</summary>
    /// <exception cref="UserInputException">The path is a folder or another kind of file that is never written.</exception>
    /// <exception cref="EngineException">Writing failed (disk full, I/O error).</exception>
    public void Save(string path) => OutputFile.Write(path, WriteTo);

    /// <summary>
    /// The size of this network's checkpoint file, to check for free space before training.
    /// The metadata grows with the history, so this allows generously for it.
    /// </summary>
    public static long FileBytes(NetworkShape shape, OptimizerSettings optimizer) =>
        HeaderLength + 12 + 4L * shape.ParameterCount * (1 + optimizer.StateArrays) + 4L * shape.StateCount + HashLength + MetadataAllowance;

    /// <summary>
    /// Reads and checks a checkpoint. Only a regular file is opened, and no more is read than the
    /// file's header and array counts say it holds, so no file can make this allocate more than a
    /// checkpoint of its stated shape needs. The arrays are read straight into place, so a
    /// checkpoint may be larger than one array of bytes (over 2 GiB).
    /// </summary>
    /// <exception cref="UserInputException">Missing, not a regular file, truncated, damaged, of another version or architecture, or meaningless.</exception>
    public static Checkpoint Load(string path)
    {
        using var stream = InputFile.OpenRead(path, "a checkpoint", out long length);
        try
        {
            return Read(stream, length);
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

    /// <summary>Whether every parameter and optimizer value is finite, as <see cref="Load"/> requires.</summary>
    public bool IsFinite => AllFinite(Parameters) && OptimizerState.All(AllFinite) && AllFinite(LayerState);

    /// <summary>The largest magnitude is NaN when any value is, and infinite when any is: one vectorised pass.</summary>
    private static bool AllFinite(float[] values) => values.Length == 0 || float.IsFinite(System.Numerics.Tensors.TensorPrimitives.MaxMagnitude(values));

    /// <summary>The file's bytes, for tests that edit them.</summary>
    internal byte[] Encode()
    {
        using var bytes = new MemoryStream();
        WriteTo(bytes);
        return bytes.ToArray();
    }

    /// <summary>A checkpoint from its file's bytes.</summary>
    /// <exception cref="InvalidDataException">Truncated, damaged, of another version or architecture, or meaningless.</exception>
    internal static Checkpoint Decode(byte[] bytes) => Read(new MemoryStream(bytes, writable: false), bytes.Length);

    private void WriteTo(Stream stream)
    {
        var o = Settings.Optimizer;
        var metadata = JsonSerializer.SerializeToUtf8Bytes(
            new Metadata(
                Architecture, Shape.Inputs, InputOf(Shape), [.. Shape.HiddenLayers], Shape.Classes,
                new RunSettings(Settings.Epochs, Settings.BatchSize, Settings.Seed, ScheduleRecord.Of(Settings), InitializerName(Settings.Initializer), Settings.ValidationSplit, Settings.EarlyStoppingPatience),
                new OptimizerRecord(o.Name, o.LearningRate, o.Rho, o.Beta1, o.Beta2, o.Epsilon, o.Momentum, o.Nesterov, OptimizerUpdates),
                Position, History, DataHash)
            {
                Scaling = Shape.Scaling.IsUnit ? null : new ScalingRecord(Shape.Scaling.Mean, Shape.Scaling.Deviation),
                Best = Best is null ? null : new BestRecord(Best.Epoch, Best.ValidationLoss, Best.EpochsWithoutImprovement, Best.Stopped, Best.Parameters is not null),
            },
            JsonOptions);
        using var writer = new HashedWriter(stream);
        var header = new byte[HeaderLength];
        Magic.CopyTo(header, 0);
        BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(Magic.Length), (uint)(Best?.Parameters is null ? FormatVersion : BestWeightsVersion));
        BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(Magic.Length + 4), (uint)metadata.Length);
        writer.Bytes(header);
        writer.Bytes(metadata);
        var counts = new byte[12];
        BinaryPrimitives.WriteUInt32LittleEndian(counts, (uint)Parameters.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(counts.AsSpan(4), (uint)OptimizerState.Count);
        BinaryPrimitives.WriteUInt32LittleEndian(counts.AsSpan(8), (uint)LayerState.Length);
        writer.Bytes(counts);
        writer.Floats(Parameters);
        foreach (var state in OptimizerState)
            writer.Floats(state);
        writer.Floats(LayerState);
        if (Best?.Parameters is { } bestParameters)
        {
            writer.Floats(bestParameters);
            writer.Floats(Best.LayerState ?? []);
        }

        stream.Write(writer.Hash());
    }

    private static Checkpoint Read(Stream stream, long length)
    {
        using var reader = new HashedReader(stream);
        var header = new byte[HeaderLength];
        int got = stream.ReadAtLeast(header, HeaderLength, throwOnEndOfStream: false);
        var (version, metadataLength) = ReadHeader(header.AsSpan(0, got));
        reader.Hashed(header);
        if (metadataLength > MaxMetadataBytes)
            throw new InvalidDataException($"its metadata is {metadataLength:N0} bytes; a checkpoint's metadata is at most {MaxMetadataBytes:N0}");
        int countsLength = version switch { 1 => 4, 2 or 3 => 8, _ => 12 };
        long countOffset = HeaderLength + (long)metadataLength;
        if (countOffset + countsLength + HashLength > length)
            throw new InvalidDataException($"the file is truncated or damaged: its metadata runs past the end of the file ({length:N0} bytes)");
        var json = reader.Bytes((int)metadataLength);
        var (parameters, stateArrays, layerState) = Counts(version, reader.Bytes(countsLength));
        // A version-5 file holds the best epoch's parameters and layer state after the layer state.
        long bestArrays = version == BestWeightsVersion ? parameters + layerState : 0;
        long expected = countOffset + countsLength + 4L * parameters * (1 + stateArrays) + 4L * layerState + 4L * bestArrays + HashLength;
        if (expected != length)
            throw new InvalidDataException($"the file is truncated or damaged: it is {length:N0} bytes, but its header and array counts make {expected:N0}");

        // The metadata is judged before any array is allocated or the floats are hashed, so a
        // file whose counts its metadata does not explain costs neither memory nor time.
        var (shape, settings, position, history, dataHash, updates) = ReadMetadata(version, json);
        if (parameters != shape.ParameterCount)
            throw new InvalidDataException($"{parameters} parameters stored, but a {shape} network has {shape.ParameterCount}");
        if (stateArrays != settings.Optimizer.StateArrays)
            throw new InvalidDataException($"{stateArrays} optimizer state arrays stored, but {settings.Optimizer} keeps {settings.Optimizer.StateArrays}");
        // Before version 4 no layer kept state, so a network that does cannot come from such a file.
        if (version >= 4 ? layerState != shape.StateCount : shape.StateCount != 0)
            throw new InvalidDataException($"{layerState} layer state values stored, but a {shape} network keeps {shape.StateCount}");

        var arrays = new float[1 + stateArrays][];
        for (int a = 0; a < arrays.Length; a++)
            arrays[a] = reader.Floats((int)parameters);
        var kept = reader.Floats((int)layerState);
        var best = ReadBest(version, json, settings, position);
        if (version == BestWeightsVersion)
            best = best! with { Parameters = reader.Floats((int)parameters), LayerState = reader.Floats((int)layerState) };
        var stored = new byte[HashLength];
        stream.ReadExactly(stored);
        if (!reader.Hash().AsSpan().SequenceEqual(stored))
            throw new InvalidDataException("checksum mismatch: the checkpoint is truncated or damaged");

        RequireFinite(shape, arrays[0], "parameter", mayBeNegative: true);
        for (int a = 0; a < stateArrays; a++)
            RequireFinite(shape, arrays[1 + a], settings.Optimizer.StateName(a), mayBeNegative: !settings.Optimizer.StateIsSquares(a));
        for (int i = 0; i < kept.Length; i++)
        {
            if (!float.IsFinite(kept[i]))
                throw new InvalidDataException(string.Create(CultureInfo.InvariantCulture, $"layer state value {i} is {kept[i]}"));
        }

        if (best?.Parameters is { } bestParameters)
            RequireFinite(shape, bestParameters, "best epoch's parameter", mayBeNegative: true);
        if (best?.LayerState is { } bestState && !bestState.All(float.IsFinite))
            throw new InvalidDataException("a value of the best epoch's layer state is not finite");

        return new Checkpoint(shape, settings, position, history.Select(e => e!).ToList(), dataHash, arrays[0], arrays[1..], updates) { LayerState = kept, Best = best };
    }

    /// <summary>The best validation epoch a version-4 or -5 file records (without its arrays), checked against the run; version 5 must have one that kept weights.</summary>
    private static BestEpoch? ReadBest(int version, ReadOnlySpan<byte> json, TrainingSettings settings, TrainingPosition position)
    {
        var record = version >= 4 ? Deserialize<BestHolder>(json).Best : null;
        if (record is null)
        {
            return version == BestWeightsVersion
                ? throw new InvalidDataException("the checkpoint's metadata makes no sense: a version-5 file without its best epoch")
                : null;
        }

        if (record.KeptWeights != (version == BestWeightsVersion) || record.Epoch < 1 || record.Epoch > position.EpochsDone || record.EpochsWithoutImprovement < 0 || record.EpochsWithoutImprovement > position.EpochsDone - record.Epoch
            || !double.IsFinite(record.ValidationLoss) || record.ValidationLoss < 0 || (record.Stopped && record.EpochsWithoutImprovement < settings.EarlyStoppingPatience))
            throw new InvalidDataException($"the checkpoint's metadata makes no sense: its best epoch {record.Epoch} after {position.EpochsDone} epochs, {record.EpochsWithoutImprovement} without improvement{(record.Stopped ? ", stopped" : "")}");
        return new BestEpoch(record.Epoch, record.ValidationLoss, record.EpochsWithoutImprovement, record.Stopped);
    }

    /// <summary>The metadata of a version-<paramref name="version"/> file, every field checked for meaning and against the others.</summary>
    private static (NetworkShape, TrainingSettings, TrainingPosition, IReadOnlyList<EpochResult?>, string, long) ReadMetadata(int version, ReadOnlySpan<byte> json)
    {
        NetworkShape shape;
        TrainingSettings settings;
        TrainingPosition position;
        IReadOnlyList<EpochResult?> history;
        string dataHash;
        long updates;
        try
        {
            // A layer spec that is not its kind's (a width "dense:abc") is refused as it is read.
            (shape, settings, position, history, dataHash, updates) = version switch
            {
                1 => ReadVersion1(json),
                2 => ReadVersion2(json),
                _ => ReadVersion3(json),
            };
        }
        catch (UserInputException e)
        {
            throw new InvalidDataException($"the checkpoint's metadata makes no sense: {e.Message}", e);
        }

        if (dataHash.Length != 64 || !dataHash.All(char.IsAsciiHexDigitLower))
            throw new InvalidDataException("the checkpoint's metadata makes no sense: dataHash is not a SHA-256 in 64 lowercase hex digits");
        try
        {
            shape.Validate();
            settings.Validate();
            position.Validate(settings, history);
        }
        catch (UserInputException e)
        {
            throw new InvalidDataException($"the checkpoint's metadata makes no sense: {e.Message}", e);
        }

        long trained = history.Sum(e => (long)e!.Steps) + position.StepsDoneInEpoch;
        if (updates != trained)
            throw new InvalidDataException($"the checkpoint's metadata makes no sense: {updates} optimizer updates, but its history and position make {trained} steps");
        return (shape, settings, position, history, dataHash, updates);
    }

    private static (NetworkShape, TrainingSettings, TrainingPosition, IReadOnlyList<EpochResult?>, string, long) ReadVersion1(ReadOnlySpan<byte> json)
    {
        var metadata = Deserialize<MetadataVersion1>(json);
        if (metadata.Architecture != ArchitectureVersion1)
            throw new InvalidDataException($"checkpoint of a '{metadata.Architecture}' network; version 1 knew only '{ArchitectureVersion1}'");
        var s = metadata.Settings;
        var settings = new TrainingSettings
        {
            Epochs = s.Epochs,
            BatchSize = s.BatchSize,
            Seed = s.Seed,
            Layers = [metadata.Hidden],
            Optimizer = OptimizerSettings.RmsProp with { LearningRate = s.LearningRate, Rho = s.Rho, Epsilon = s.Epsilon },
        };
        var history = metadata.History;
        // Version 1 did not count updates; RMSprop does not need them, and they are every step trained.
        long updates = history.Sum(e => (long)(e?.Steps ?? 0)) + metadata.Position.StepsDoneInEpoch;
        return (new NetworkShape(metadata.Inputs, metadata.Hidden, metadata.Classes), settings, metadata.Position, history, metadata.DataHash, updates);
    }

    private static (NetworkShape, TrainingSettings, TrainingPosition, IReadOnlyList<EpochResult?>, string, long) ReadVersion2(ReadOnlySpan<byte> json)
    {
        var metadata = Deserialize<MetadataVersion2>(json);
        if (metadata.Architecture != ArchitectureVersion2)
            throw new InvalidDataException($"checkpoint of a '{metadata.Architecture}' network; version 2 knew only '{ArchitectureVersion2}'");
        if (metadata.Layers.Any(spec => spec.DenseWidth is null))
            throw new InvalidDataException($"a version-2 checkpoint holds dense layers only, not {NetworkShape.FormatLayers(metadata.Layers)}");
        return FromMetadata(metadata.Inputs, metadata.Layers, metadata.Classes, metadata.Settings, metadata.Optimizer, metadata.Position, metadata.History, metadata.DataHash);
    }

    private static (NetworkShape, TrainingSettings, TrainingPosition, IReadOnlyList<EpochResult?>, string, long) ReadVersion3(ReadOnlySpan<byte> json)
    {
        var metadata = Deserialize<Metadata>(json);
        if (metadata.Architecture != Architecture)
            throw new InvalidDataException($"checkpoint of a '{metadata.Architecture}' network; this build runs '{Architecture}'");
        var result = FromMetadata(metadata.Inputs, metadata.Layers, metadata.Classes, metadata.Settings, metadata.Optimizer, metadata.Position, metadata.History, metadata.DataHash);
        if (!metadata.Input.AsSpan().SequenceEqual(InputOf(result.Item1)))
            throw new InvalidDataException($"input [{string.Join(", ", metadata.Input)}] is not how this build reads {metadata.Inputs} inputs: [{string.Join(", ", InputOf(result.Item1))}]");
        if (metadata.Scaling is not { } scaling)
            return result;
        try
        {
            var shape = new NetworkShape(result.Item1.Inputs, result.Item1.HiddenLayers, result.Item1.Classes) { Scaling = new InputScaling(scaling.Mean, scaling.Deviation) };
            return result with { Item1 = shape, Item2 = result.Item2 with { Standardize = true } };
        }
        catch (UserInputException e)
        {
            throw new InvalidDataException($"the checkpoint's metadata makes no sense: {e.Message}", e);
        }
    }

    /// <summary>The network's input as (height, width, channels): 28×28×1 images, or flat vectors as 1×1×n.</summary>
    private static int[] InputOf(NetworkShape shape)
    {
        var input = FeatureShape.OfInput(shape.Inputs);
        return [input.Height, input.Width, input.Channels];
    }

    private static (NetworkShape, TrainingSettings, TrainingPosition, IReadOnlyList<EpochResult?>, string, long) FromMetadata(
        int inputs, LayerSpec[] layers, int classes, RunSettings s, OptimizerRecord o, TrainingPosition position, IReadOnlyList<EpochResult?> history, string dataHash)
    {
        OptimizerSettings optimizer;
        try
        {
            optimizer = OptimizerSettings.Named(o.Name) with
            {
                LearningRate = o.LearningRate,
                Rho = o.Rho,
                Beta1 = o.Beta1,
                Beta2 = o.Beta2,
                Epsilon = o.Epsilon,
                Momentum = o.Momentum,
                Nesterov = o.Nesterov,
            };
        }
        catch (UserInputException e)
        {
            throw new InvalidDataException($"the checkpoint's metadata makes no sense: {e.Message}", e);
        }

        var schedule = LearningRateSchedule.Constant;
        try
        {
            if (s.Schedule is { } record)
            {
                schedule = LearningRateSchedule.Parse(record.Name, record.WarmupSteps);
                if (record.Epochs < 1 || record.Epochs > TrainingSettings.MaxEpochs)
                    throw new UserInputException($"the schedule spans {record.Epochs} epochs, not 1..{TrainingSettings.MaxEpochs}");
            }
        }
        catch (UserInputException e)
        {
            throw new InvalidDataException($"the checkpoint's metadata makes no sense: {e.Message}", e);
        }

        Initializer initializer;
        try
        {
            initializer = s.Initializer is { } name ? Initialization.Parse(name) : Initializer.GlorotUniform;
        }
        catch (UserInputException e)
        {
            throw new InvalidDataException($"the checkpoint's metadata makes no sense: {e.Message}", e);
        }

        var settings = new TrainingSettings
        {
            Epochs = s.Epochs,
            BatchSize = s.BatchSize,
            Seed = s.Seed,
            Layers = layers,
            Optimizer = optimizer,
            Schedule = schedule,
            ScheduleEpochs = s.Schedule?.Epochs ?? 0,
            Initializer = initializer,
            ValidationSplit = s.ValidationSplit,
            EarlyStoppingPatience = s.EarlyStopping,
        };
        if (s.EarlyStopping < 0)
            throw new InvalidDataException($"the checkpoint's metadata makes no sense: early stopping's patience is {s.EarlyStopping}");
        if (!(s.ValidationSplit >= 0 && s.ValidationSplit < 1))
            throw new InvalidDataException($"the checkpoint's metadata makes no sense: a validation split of {s.ValidationSplit.ToString(CultureInfo.InvariantCulture)}");
        return (new NetworkShape(inputs, layers, classes), settings, position, history, dataHash, o.Updates);
    }

    private static T Deserialize<T>(ReadOnlySpan<byte> json)
        where T : class
    {
        try
        {
            return JsonSerializer.Deserialize<T>(json, JsonOptions) ?? throw new InvalidDataException("empty metadata");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"unreadable metadata: {e.Message}", e);
        }
    }

    /// <summary>The parameter count, the number of optimizer state arrays (version 1 always kept one, RMSprop's) and the layers' state values (none before version 4).</summary>
    private static (long Parameters, long StateArrays, long LayerState) Counts(int version, ReadOnlySpan<byte> counts)
    {
        long parameters = BinaryPrimitives.ReadUInt32LittleEndian(counts);
        long stateArrays = version == 1 ? 1 : BinaryPrimitives.ReadUInt32LittleEndian(counts[4..]);
        long layerState = version >= 4 ? BinaryPrimitives.ReadUInt32LittleEndian(counts[8..]) : 0;
        if (stateArrays > 2)
            throw new InvalidDataException($"{stateArrays} optimizer state arrays; no optimizer keeps more than 2");
        return (parameters, stateArrays, layerState);
    }

    /// <summary>The format version (1 to 4) and the metadata length, after checking the magic.</summary>
    private static (int Version, uint MetadataLength) ReadHeader(ReadOnlySpan<byte> header)
    {
        if (header.Length < HeaderLength || !header[..Magic.Length].SequenceEqual(Magic))
            throw new InvalidDataException("not an MnistGpu checkpoint (no MNGPUCKP header)");
        uint version = BinaryPrimitives.ReadUInt32LittleEndian(header[Magic.Length..]);
        if (version is not (1 or 2 or 3 or FormatVersion or BestWeightsVersion))
            throw new InvalidDataException($"checkpoint format version {version}; this build reads versions 1 to {BestWeightsVersion}");
        return ((int)version, BinaryPrimitives.ReadUInt32LittleEndian(header[(Magic.Length + 4)..]));
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

    /// <param name="Input">The input's (height, width, channels), which the convolutions read it as.</param>
    private sealed record Metadata(
        string Architecture, int Inputs, int[] Input, LayerSpec[] Layers, int Classes, RunSettings Settings, OptimizerRecord Optimizer, TrainingPosition Position,
        IReadOnlyList<EpochResult?> History, string DataHash)
    {
        /// <summary>The input scaling of a standardised network (<see cref="NetworkShape.Scaling"/>); absent (byte / 255) otherwise, so other networks' metadata is as before.</summary>
        [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
        public ScalingRecord? Scaling { get; init; }

        /// <summary>The best validation epoch, when the run validates; absent otherwise.</summary>
        [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
        public BestRecord? Best { get; init; }
    }

    private sealed record ScalingRecord(float Mean, float Deviation);

    /// <summary>The best validation epoch (<see cref="BestEpoch"/>): <paramref name="KeptWeights"/> says its arrays follow the layer state (version 5).</summary>
    private sealed record BestRecord(int Epoch, double ValidationLoss, int EpochsWithoutImprovement, bool Stopped, bool KeptWeights);

    /// <summary>The metadata's best epoch alone, read apart from the rest.</summary>
    private sealed record BestHolder(BestRecord? Best = null);

    /// <summary>An initializer's name for the metadata: absent for Keras' default, so other runs' metadata is as before.</summary>
    private static string? InitializerName(Initializer initializer) => initializer == Initializer.GlorotUniform ? null : initializer.Name();

    private sealed record MetadataVersion2(
        string Architecture, int Inputs, LayerSpec[] Layers, int Classes, RunSettings Settings, OptimizerRecord Optimizer, TrainingPosition Position,
        IReadOnlyList<EpochResult?> History, string DataHash);

    /// <param name="Schedule">Written only when the learning rate moves: a constant-rate run's metadata is as before.</param>
    /// <param name="Initializer">Written only when it is not Keras' Glorot-uniform.</param>
    /// <param name="ValidationSplit">The fraction of the training set held out for validation (the data hash is the rest's); written only when there is one.</param>
    /// <param name="EarlyStopping">Early stopping's patience in epochs; written only when it is on.</param>
    private sealed record RunSettings(
        int Epochs, int BatchSize, int Seed,
        [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] ScheduleRecord? Schedule = null,
        [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Initializer = null,
        [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] double ValidationSplit = 0,
        [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] int EarlyStopping = 0);

    /// <summary>A learning-rate schedule as --lr-schedule writes it, its warm-up, and the epochs it spans (the run's --epochs as first given).</summary>
    private sealed record ScheduleRecord(string Name, int WarmupSteps, int Epochs)
    {
        public static ScheduleRecord? Of(TrainingSettings settings) =>
            settings.Schedule.Varies ? new ScheduleRecord(settings.Schedule.Text, settings.Schedule.WarmupSteps, settings.ScheduleLength) : null;
    }

    private sealed record OptimizerRecord(
        string Name, float LearningRate, float Rho, float Beta1, float Beta2, float Epsilon, float Momentum, bool Nesterov, long Updates);

    private sealed record MetadataVersion1(
        string Architecture, int Inputs, int Hidden, int Classes, SettingsVersion1 Settings, TrainingPosition Position,
        IReadOnlyList<EpochResult?> History, string DataHash);

    private sealed record SettingsVersion1(int Epochs, int BatchSize, int HiddenUnits, float LearningRate, float Rho, float Epsilon, int Seed);
}
