using System.Text.Json.Serialization;
using MnistGpu.Engine.Model;
using MnistGpu.Engine.Model.Layers;

namespace MnistGpu.Engine.Training;

/// <summary>
/// Every hyperparameter of a run, in one place. The defaults are the Keras MNIST example's,
/// which is the result this engine sets out to reproduce.
/// </summary>
public sealed record TrainingSettings
{
    /// <summary>Far beyond any real run, and small enough that no count built from it overflows.</summary>
    public const int MaxEpochs = 1_000_000;

    /// <summary>
    /// 2³⁰: far beyond any device's memory for one step, and small enough that a step count or a
    /// sample count built from it cannot overflow. A batch larger than the training set is one
    /// batch of all of it.
    /// </summary>
    public const int MaxBatchSize = 1 << 30;

    private IReadOnlyList<LayerSpec> layers = [512];

    /// <summary>Five passes reach Keras' ~98.9 % train / 97.8 % test accuracy.</summary>
    public int Epochs { get; init; } = 5;

    /// <summary>
    /// 128 samples per step, Keras' choice for the example; 60,000 is then 468 full batches and
    /// one of 96, which is trained as it is rather than dropped or padded.
    /// </summary>
    public int BatchSize { get; init; } = 128;

    /// <summary>The hidden layers, input side first, each with the activation its spec gives (a dense layer's ReLU); one dense layer of 512 units in the example (a width converts to a dense spec).</summary>
    public IReadOnlyList<LayerSpec> Layers
    {
        get => layers;
        init => layers = [.. value];
    }

    /// <summary>Shorthand for a network of one dense hidden layer of this width (<c>--hidden</c>); the first hidden layer's width when it is dense, else 0.</summary>
    [JsonIgnore]
    public int HiddenUnits
    {
        get => layers[0].DenseWidth ?? 0;
        init => layers = [value];
    }

    /// <summary>RMSprop with Keras' defaults, as in the example.</summary>
    public OptimizerSettings Optimizer { get; init; } = OptimizerSettings.RmsProp;

    /// <summary>Shorthand for the optimizer's learning rate.</summary>
    [JsonIgnore]
    public float LearningRate
    {
        get => Optimizer.LearningRate;
        init => Optimizer = Optimizer with { LearningRate = value };
    }

    /// <summary>
    /// The Keras book's convnet (chapter 5): Conv2D(32, 3×3, ReLU), MaxPooling2D, Conv2D(64),
    /// MaxPooling2D, Conv2D(64), Flatten, Dense(64, ReLU), then the dense softmax layer; 'valid'
    /// padding, batches of 64, RMSprop. It reaches ~99 % on MNIST.
    /// </summary>
    public static TrainingSettings Convnet { get; } = new()
    {
        Layers = LayerSpec.ParseList("conv3x3:32,maxpool,conv3x3:64,maxpool,conv3x3:64,flatten,64"),
        BatchSize = 64,
    };

    /// <summary>How the learning rate moves from step to step; the optimizer's rate is its maximum. Constant by default.</summary>
    public LearningRateSchedule Schedule { get; init; } = LearningRateSchedule.Constant;

    /// <summary>
    /// The epochs the schedule spans: the run's --epochs as first given (0: <see cref="Epochs"/>),
    /// kept when a resumed run trains to another total.
    /// </summary>
    public int ScheduleEpochs { get; init; }

    /// <summary>The epochs the schedule spans: <see cref="ScheduleEpochs"/>, or <see cref="Epochs"/> when that is 0.</summary>
    [JsonIgnore]
    public int ScheduleLength => ScheduleEpochs > 0 ? ScheduleEpochs : Epochs;

    /// <summary>The learning rate of optimizer update <paramref name="update"/> (1 for the first), epochs being <paramref name="stepsPerEpoch"/> steps.</summary>
    public float LearningRateAt(long update, int stepsPerEpoch) =>
        Schedule.Rate(Optimizer.LearningRate, update, stepsPerEpoch, (long)ScheduleLength * stepsPerEpoch);

    /// <summary>Seeds the initial weights and every epoch's shuffle.</summary>
    public int Seed { get; init; } = 1;

    /// <summary>
    /// Keras' validation_split: the last this fraction of the training set, taken before shuffling, is
    /// never trained on and is evaluated after every epoch; 0 (the default) for none.
    /// </summary>
    public double ValidationSplit { get; init; }

    /// <summary>
    /// Early stopping (<c>--early-stopping PATIENCE</c>): ends the run once the validation loss has
    /// not fallen for this many epochs, and restores the weights of the epoch where it was lowest
    /// (whether the run stopped early or not); 0 (the default) for none. Needs a validation set.
    /// </summary>
    public int EarlyStoppingPatience { get; init; }

    /// <summary>How a new run draws its weights and biases: Keras' Glorot-uniform by default.</summary>
    public Initializer Initializer { get; init; } = Initializer.GlorotUniform;

    /// <summary>
    /// Whether the network standardises its inputs (<c>--standardize</c>): one mean and one standard
    /// deviation over every pixel of the training split, kept with the network (<see cref="NetworkShape.Scaling"/>).
    /// </summary>
    public bool Standardize { get; init; }

    /// <summary>The hidden layers as the command line writes them, e.g. "512,256".</summary>
    [JsonIgnore]
    public string LayersText => NetworkShape.FormatLayers(layers);

    public bool Equals(TrainingSettings? other) =>
        other is not null && Epochs == other.Epochs && BatchSize == other.BatchSize && Seed == other.Seed
        && Optimizer == other.Optimizer && layers.SequenceEqual(other.layers) && Schedule == other.Schedule && ScheduleEpochs == other.ScheduleEpochs
        && Initializer == other.Initializer && Standardize == other.Standardize && ValidationSplit == other.ValidationSplit && EarlyStoppingPatience == other.EarlyStoppingPatience;

    public override int GetHashCode() => HashCode.Combine(Epochs, BatchSize, Seed, Optimizer, LayersText, Schedule);

    /// <exception cref="UserInputException">A setting is out of range.</exception>
    public void Validate()
    {
        if (Epochs < 1 || Epochs > MaxEpochs)
            throw new UserInputException($"epochs must be in 1..{MaxEpochs}, got {Epochs}");
        if (BatchSize < 1 || BatchSize > MaxBatchSize)
            throw new UserInputException($"batch size must be from 1 to {MaxBatchSize:N0}, got {BatchSize:N0}");
        if (layers.Count == 0 || layers.Any(spec => spec.DenseWidth is < 1))
            throw new UserInputException($"every hidden layer needs at least 1 unit, got '{LayersText}'");
        if (EarlyStoppingPatience < 0 || EarlyStoppingPatience > MaxEpochs)
            throw new UserInputException($"--early-stopping must be a whole number of epochs from 1 to {MaxEpochs}, got {EarlyStoppingPatience}");
        if (!(ValidationSplit >= 0 && ValidationSplit < 1))
            throw new UserInputException($"--validation-split must be in [0, 1), got {ValidationSplit.ToString(System.Globalization.CultureInfo.InvariantCulture)}");
        if (layers.Count > NetworkShape.MaxHiddenLayers)
            throw new UserInputException($"at most {NetworkShape.MaxHiddenLayers} hidden layers, got {layers.Count}");
        Optimizer.Validate();
    }
}
