namespace MnistGpu.Engine.Training;

/// <summary>
/// The loss, the test loss or the weights became NaN or infinite: training cannot go on, and
/// nothing from that point is saved. The message is one line; <see cref="TrainingRun"/> adds
/// which checkpoint is the last good one.
/// </summary>
public sealed class TrainingDivergedException(string message) : EngineException(message);
