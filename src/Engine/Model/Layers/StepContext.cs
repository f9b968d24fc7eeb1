namespace MnistGpu.Engine.Model.Layers;

/// <summary>Whether a pass trains the network or only reads it (evaluation, prediction, serving, export).</summary>
public enum StepMode
{
    /// <summary>A training step: layers that train differently (Dropout) do so.</summary>
    Training,

    /// <summary>A forward pass that changes nothing: Dropout is the identity.</summary>
    Inference,
}

/// <summary>
/// What a layer's forward and backward may depend on besides its arrays: whether the pass trains,
/// and for a training step its number (the optimizer update it makes, 1 for a run's first, counted
/// across resumes) and the run's seed — so a layer that draws (Dropout's mask) draws the same on
/// every device, on every rerun and after a resume.
/// </summary>
public readonly record struct StepContext(StepMode Mode, long Step, int Seed)
{
    /// <summary>A pass that only reads the network.</summary>
    public static StepContext Inference { get; } = new(StepMode.Inference, 0, 0);

    public bool Training => Mode == StepMode.Training;

    /// <summary>Training step <paramref name="step"/> (1 for the first) of a run seeded with <paramref name="seed"/>.</summary>
    public static StepContext ForTraining(long step, int seed) => new(StepMode.Training, step, seed);
}
