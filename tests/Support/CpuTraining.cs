using MnistGpu.Engine.Backends;
using MnistGpu.Engine.Backends.Host;
using MnistGpu.Engine.Data;
using MnistGpu.Engine.Training;
using MnistGpu.Tests.Kernels;

namespace MnistGpu.Tests.Support;

/// <summary>The one way tests train a network to a checkpoint.</summary>
internal static class CpuTraining
{
    /// <summary>
    /// Trains up to <paramref name="epochs"/> epochs, from fresh weights or continuing
    /// <paramref name="from"/>: on the CPU accelerator, where a seeded run is bit-for-bit
    /// repeatable, unless <paramref name="device"/> makes another backend.
    /// </summary>
    public static Checkpoint Train(LabeledImages subset, TrainingSettings settings, int epochs, Checkpoint? from, Func<ITrainingBackend>? device = null)
    {
        using var backend = device?.Invoke() ?? IlgpuBackend.CreateCpuAccelerator();
        using var trainer = from is null
            ? new Trainer(backend, subset, settings with { Epochs = epochs })
            : new Trainer(backend, subset, from, epochs);
        while (trainer.Position.EpochsDone < epochs)
            trainer.TrainEpoch();
        return trainer.CreateCheckpoint();
    }

    /// <summary>
    /// Makes the backend a test names for <see cref="Train"/>: "host", "cpu", or (any other name)
    /// the shared OpenCL device, lent so that the trainer's disposal leaves it to the fixture.
    /// </summary>
    public static Func<ITrainingBackend> Device(string name, OpenClFixture openCl) => name switch
    {
        "host" => () => new HostBackend(),
        "cpu" => () => IlgpuBackend.CreateCpuAccelerator(),
        _ => () => new Borrowed(openCl.Require()),
    };

    /// <summary>The shared OpenCL device, lent to a trainer that disposes what it is given.</summary>
    private sealed class Borrowed(ITrainingBackend inner) : DelegatingBackend(inner);
}
