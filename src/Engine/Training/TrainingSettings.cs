using MnistGpu.Engine.Backends;

namespace MnistGpu.Engine.Training;

/// <summary>
/// Every hyperparameter of a run, in one place. The defaults are the Keras MNIST example's,
/// which is the result this engine sets out to reproduce.
/// </summary>
public sealed record TrainingSettings
{
    /// <summary>Far beyond any real run, and small enough that no count built from it overflows.</summary>
    public const int MaxEpochs = 1_000_000;

    /// <summary>Five passes reach Keras' ~98.9 % train / 97.8 % test accuracy.</summary>
    public int Epochs { get; init; } = 5;

    /// <summary>
    /// 128 samples per step, Keras' choice for the example; 60,000 is then 468 full batches and
    /// one of 96, which is trained as it is rather than dropped or padded.
    /// </summary>
    public int BatchSize { get; init; } = 128;

    /// <summary>Width of the hidden layer; 512 in the example.</summary>
    public int HiddenUnits { get; init; } = 512;

    /// <summary>RMSprop step size; Keras' default.</summary>
    public float LearningRate { get; init; } = 0.001f;

    /// <summary>RMSprop decay of the running mean of squared gradients; Keras' default.</summary>
    public float Rho { get; init; } = 0.9f;

    /// <summary>
    /// Keeps the RMSprop step finite where a gradient has always been zero (image borders);
    /// Keras' default, added outside the square root as Keras does.
    /// </summary>
    public float Epsilon { get; init; } = 1e-7f;

    /// <summary>The optimizer these settings describe.</summary>
    public RmsProp Optimizer => new(LearningRate, Rho, Epsilon);

    /// <summary>Seeds the initial weights and every epoch's shuffle.</summary>
    public int Seed { get; init; } = 1;

    /// <exception cref="UserInputException">A setting is out of range.</exception>
    public void Validate()
    {
        if (Epochs < 1 || Epochs > MaxEpochs)
            throw new UserInputException($"epochs must be in 1..{MaxEpochs}, got {Epochs}");
        if (BatchSize < 1)
            throw new UserInputException($"batch size must be at least 1, got {BatchSize}");
        if (HiddenUnits < 1)
            throw new UserInputException($"hidden units must be at least 1, got {HiddenUnits}");
        if (!(LearningRate > 0f) || float.IsInfinity(LearningRate))
            throw new UserInputException($"learning rate must be a positive number, got {LearningRate}");
        if (!(Rho >= 0f && Rho < 1f))
            throw new UserInputException($"rho must be in [0, 1), got {Rho}");
        if (!(Epsilon > 0f) || float.IsInfinity(Epsilon))
            throw new UserInputException($"epsilon must be a positive number, got {Epsilon}");
    }
}
