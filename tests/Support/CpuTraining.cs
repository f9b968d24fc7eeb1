using MnistGpu.Engine.Backends;
using MnistGpu.Engine.Data;
using MnistGpu.Engine.Training;

namespace MnistGpu.Tests.Support;

internal static class CpuTraining
{
    /// <summary>
    /// Trains on the CPU accelerator, where a seeded run is bit-for-bit repeatable, up to
    /// <paramref name="epochs"/> epochs: from fresh weights, or continuing <paramref name="from"/>.
    /// </summary>
    public static Checkpoint Train(LabeledImages subset, TrainingSettings settings, int epochs, Checkpoint? from)
    {
        using var device = IlgpuBackend.CreateCpuAccelerator();
        using var trainer = from is null
            ? new Trainer(device, subset, settings with { Epochs = epochs })
            : new Trainer(device, subset, from, epochs);
        while (trainer.Position.EpochsDone < epochs)
            trainer.TrainEpoch();
        return trainer.CreateCheckpoint();
    }
}
